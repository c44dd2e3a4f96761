// Package config reads the services' typed configuration from environment variables,
// validated once at start-up. Load reports every problem at once, each naming the
// variable and how to fix it, so a misconfigured pod fails with one readable message.
package config

import (
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Identity is what the workload identity webhook injects.
type Identity struct {
	ClientID           string
	TenantID           string
	FederatedTokenFile string // "" → DefaultAzureCredential
	AuthorityHost      string // "" → public cloud
}

// KeyVault is the Key Vault holding the receipt signing key.
type KeyVault struct {
	URL          string
	Emulator     bool   // KEYVAULT_AUTH=emulator
	SecretName   string // RECEIPT_KEY_SECRET
	RefreshEvery time.Duration
}

// Cosmos is the Cosmos DB account, database and container.
type Cosmos struct {
	Endpoint  string
	Database  string
	Container string
	Key       string // emulator only
}

// Storage is the storage account's blob service.
type Storage struct {
	BlobEndpoint         string
	ConnectionString     string // emulator only
	AttachmentsContainer string
	ReceiptsContainer    string
}

// ServiceBus is the namespace and its entities.
type ServiceBus struct {
	Namespace          string // FQDN, or host:port locally
	ConnectionString   string // emulator only
	OrdersQueue        string
	EventsTopic        string
	EventsSubscription string
}

// FrontendSettings are read only by the frontend.
type FrontendSettings struct {
	HTTPAddr               string
	TraceViewURL           string // "" = the page shows no link
	BackendHealthURL       string // "" = the identity panel has no backend to ask
	MaxBodyBytes           int64
	MaxAttachmentBytes     int64
	AllowedAttachmentTypes []string
	ReconcileInterval      time.Duration // 0 = outbox reconciler disabled
	ReconcileMinAge        time.Duration
}

// BackendSettings are read only by the backend.
type BackendSettings struct {
	HealthAddr        string
	Concurrency       int
	Prefetch          int
	LockRenewInterval time.Duration
	ProcessingDelay   time.Duration
}

// Config is the whole configuration of either service.
type Config struct {
	Identity        Identity
	KeyVault        KeyVault
	Cosmos          Cosmos
	Storage         Storage
	ServiceBus      ServiceBus
	LogLevel        slog.Level
	SSLCertFile     string
	ShutdownTimeout time.Duration
	Frontend        FrontendSettings
	Backend         BackendSettings
}

// Error is every configuration problem found by Load, one per line.
type Error struct {
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "configuration: " + e.Problems[0]
	}
	return fmt.Sprintf("configuration: %d problems:\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// docRef ends every fix so that the reader knows where the full list is.
const docRef = " (see docs/configuration.md)"

// Load reads the configuration through getenv (os.Getenv in main, a map in tests).
// It returns an *Error listing every missing or invalid variable of either service.
func Load(getenv func(string) string) (Config, error) {
	c, l := load(getenv)
	if len(l.problems) > 0 {
		return c, &Error{Problems: l.problems}
	}
	return c, nil
}

// LoadFor is Load for one service (Frontend or Backend): a variable only the other
// service reads is still parsed, but a problem with it does not stop this one (a
// bad WORKER_CONCURRENCY is the backend's business, not the frontend's).
func LoadFor(service string, getenv func(string) string) (Config, error) {
	c, l := load(getenv)
	var mine []string
	for i, p := range l.problems {
		if s := lookupVar(l.about[i]).Service; s == "" || s == Both || s == service {
			mine = append(mine, p)
		}
	}
	if len(mine) > 0 {
		return c, &Error{Problems: mine}
	}
	return c, nil
}

func load(getenv func(string) string) (Config, *loader) {
	l := &loader{getenv: getenv}
	var c Config

	c.Identity = Identity{
		ClientID:           l.str(EnvClientID),
		TenantID:           l.str(EnvTenantID),
		FederatedTokenFile: l.str(EnvFederatedTokenFile),
		AuthorityHost:      l.str(EnvAuthorityHost),
	}
	if c.Identity.FederatedTokenFile != "" {
		// The workload identity credential needs all of them; report each one missing.
		if c.Identity.ClientID == "" {
			l.missing(EnvClientID, "AZURE_FEDERATED_TOKEN_FILE is set, so ")
		}
		if c.Identity.TenantID == "" {
			l.missing(EnvTenantID, "AZURE_FEDERATED_TOKEN_FILE is set, so ")
		}
	}
	if c.Identity.AuthorityHost != "" {
		l.httpsURL(EnvAuthorityHost, c.Identity.AuthorityHost, false)
	}

	c.KeyVault = KeyVault{
		URL:          l.required(EnvKeyVaultURL),
		SecretName:   l.str(EnvReceiptKeySecret),
		RefreshEvery: l.duration(EnvKeyRefreshInterval),
	}
	switch auth := l.str(EnvKeyVaultAuth); auth {
	case "":
	case "emulator":
		c.KeyVault.Emulator = true
	default:
		l.invalid(EnvKeyVaultAuth, auth)
	}
	if c.KeyVault.URL != "" {
		// Bearer tokens never travel over plain http, emulator or not.
		l.httpsURL(EnvKeyVaultURL, c.KeyVault.URL, false)
	}

	c.Cosmos = Cosmos{
		Endpoint:  l.required(EnvCosmosEndpoint),
		Database:  l.str(EnvCosmosDatabase),
		Container: l.str(EnvCosmosContainer),
		Key:       l.str(EnvCosmosKey),
	}
	if c.Cosmos.Endpoint != "" {
		// The Cosmos emulator serves http; a key is the only credential allowed there.
		l.httpsURL(EnvCosmosEndpoint, c.Cosmos.Endpoint, c.Cosmos.Key != "")
	}

	c.Storage = Storage{
		ConnectionString:     l.str(EnvStorageConnString),
		AttachmentsContainer: l.str(EnvAttachments),
		ReceiptsContainer:    l.str(EnvReceipts),
	}
	if c.Storage.ConnectionString == "" {
		c.Storage.BlobEndpoint = l.required(EnvBlobEndpoint)
		if c.Storage.BlobEndpoint != "" {
			l.httpsURL(EnvBlobEndpoint, c.Storage.BlobEndpoint, false)
		}
	} else {
		c.Storage.BlobEndpoint = l.str(EnvBlobEndpoint)
	}

	c.ServiceBus = ServiceBus{
		ConnectionString:   l.str(EnvSBConnString),
		OrdersQueue:        l.str(EnvOrdersQueue),
		EventsTopic:        l.str(EnvEventsTopic),
		EventsSubscription: l.str(EnvEventsSubscription),
	}
	if c.ServiceBus.ConnectionString == "" {
		c.ServiceBus.Namespace = l.required(EnvSBNamespace)
		if ns := c.ServiceBus.Namespace; ns != "" {
			if strings.Contains(ns, "://") || strings.Contains(ns, "/") {
				l.problem(EnvSBNamespace, fmt.Sprintf("is %q, a URL", ns), "set it to the bare host name (no scheme, no path), e.g. sb-orderflow.servicebus.windows.net")
			} else if _, _, err := net.SplitHostPort(ns); err != nil && strings.Contains(ns, ":") {
				l.invalid(EnvSBNamespace, ns)
			}
		}
	} else {
		c.ServiceBus.Namespace = l.str(EnvSBNamespace)
	}
	for _, n := range []string{EnvCosmosDatabase, EnvCosmosContainer, EnvAttachments, EnvReceipts, EnvOrdersQueue, EnvEventsTopic, EnvEventsSubscription, EnvReceiptKeySecret} {
		if l.str(n) == "" {
			l.missing(n, "")
		}
	}

	switch lv := strings.ToLower(l.str(EnvLogLevel)); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		l.invalid(EnvLogLevel, lv)
	}
	if c.SSLCertFile = l.str(EnvSSLCertFile); c.SSLCertFile != "" {
		if _, err := os.Stat(c.SSLCertFile); err != nil {
			l.problem(EnvSSLCertFile, fmt.Sprintf("names %q, which cannot be read (%v)", c.SSLCertFile, err), lookupVar(EnvSSLCertFile).fix())
		}
	}
	c.ShutdownTimeout = l.duration(EnvShutdownTimeout)

	c.Frontend = FrontendSettings{
		HTTPAddr:           l.addr(EnvHTTPAddr),
		TraceViewURL:       l.str(EnvTraceViewURL),
		BackendHealthURL:   l.str(EnvBackendHealthURL),
		MaxBodyBytes:       l.int64(EnvMaxBodyBytes),
		MaxAttachmentBytes: l.int64(EnvMaxAttachmentBytes),
	}
	for _, t := range strings.Split(l.str(EnvAllowedAttachmentTypes), ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(t)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") {
			l.invalid(EnvAllowedAttachmentTypes, t)
			continue
		}
		c.Frontend.AllowedAttachmentTypes = append(c.Frontend.AllowedAttachmentTypes, mt)
	}
	if len(c.Frontend.AllowedAttachmentTypes) == 0 {
		l.missing(EnvAllowedAttachmentTypes, "")
	}
	if u := c.Frontend.TraceViewURL; u != "" {
		l.httpsURL(EnvTraceViewURL, u, true) // plain http is fine: a link, no credential
	}
	if u := c.Frontend.BackendHealthURL; u != "" {
		// Plain http is the norm: a ClusterIP Service inside the cluster, and the
		// request carries no credential (the health port has no authentication).
		l.httpsURL(EnvBackendHealthURL, u, true)
	}
	c.Frontend.ReconcileMinAge = l.duration(EnvReconcileMinAge)
	if s := l.str(EnvReconcileInterval); s != "0" {
		c.Frontend.ReconcileInterval = l.duration(EnvReconcileInterval)
	}

	c.Backend = BackendSettings{
		HealthAddr:        l.addr(EnvHealthAddr),
		Concurrency:       int(l.int64(EnvWorkerConcurrency)),
		Prefetch:          int(l.int64(EnvWorkerPrefetch)),
		LockRenewInterval: l.duration(EnvLockRenewInterval),
		ProcessingDelay:   l.duration(EnvWorkerProcessingDelay),
	}
	return c, l
}

// loader reads variables with their defaults and collects problems.
type loader struct {
	getenv   func(string) string
	problems []string
	about    []string // the variable each problem is about, for LoadFor
}

func (l *loader) str(name string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return lookupVar(name).Default
}

func (l *loader) problem(name, what, fix string) {
	l.problems = append(l.problems, fmt.Sprintf("%s %s: %s%s", name, what, fix, docRef))
	l.about = append(l.about, name)
}

func (l *loader) missing(name, why string) {
	v := lookupVar(name)
	l.problems = append(l.problems, fmt.Sprintf("%s is not set: %s%s%s%s", name, why, v.fix(), example(v), docRef))
	l.about = append(l.about, name)
}

func (l *loader) invalid(name, value string) {
	l.problem(name, fmt.Sprintf("is %q, which is not valid", value), lookupVar(name).fix())
}

func example(v Var) string {
	if v.Example == "" || strings.Contains(v.fix(), "e.g.") {
		return ""
	}
	return ", e.g. " + v.Example
}

func (l *loader) required(name string) string {
	v := l.str(name)
	if v == "" {
		l.missing(name, "")
	}
	return v
}

func (l *loader) httpsURL(name, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		l.problem(name, fmt.Sprintf("is %q, not an absolute URL", raw), lookupVar(name).fix())
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	default:
		l.problem(name, fmt.Sprintf("is %q, which is not https", raw), "use https: Entra tokens are only sent over TLS")
	}
}

// duration parses a Go duration within the variable's Min and Max.
func (l *loader) duration(name string) time.Duration {
	lo, hi := durationBounds(name)
	s := l.str(name)
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		l.invalid(name, s)
		return 0
	}
	return d
}

// int64 parses an integer within the variable's Min and Max.
func (l *loader) int64(name string) int64 {
	v := lookupVar(name)
	lo, err1 := strconv.ParseInt(v.Min, 10, 64)
	hi, err2 := strconv.ParseInt(v.Max, 10, 64)
	if err1 != nil || err2 != nil {
		panic("config: " + name + " has no integer Min and Max") // a registry mistake
	}
	s := l.str(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		l.invalid(name, s)
		return 0
	}
	return n
}

func (l *loader) addr(name string) string {
	s := l.str(name)
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		l.invalid(name, s)
	}
	return s
}

func durationBounds(name string) (lo, hi time.Duration) {
	v := lookupVar(name)
	lo, err1 := time.ParseDuration(v.Min)
	hi, err2 := time.ParseDuration(v.Max)
	if err1 != nil || err2 != nil {
		panic("config: " + name + " has no duration Min and Max") // a registry mistake
	}
	return lo, hi
}

package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/blobgate"
	"github.com/contoso/orderflow/localazure/cosmosemu"
	"github.com/contoso/orderflow/localazure/entraemu"
	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/keyvaultemu"
	"github.com/contoso/orderflow/localazure/servicebusemu"
	"github.com/contoso/orderflow/localazure/stackconfig"
	"github.com/contoso/orderflow/localazure/tlsca"
	"github.com/contoso/orderflow/localazure/traceview"
)

// Stack is a running local Azure. Its methods are safe for concurrent use.
type Stack struct {
	cfg       *stackconfig.Config
	opts      Options
	log       *slog.Logger
	ca        *tlsca.CA
	stateDir  string
	tempState bool
	endpoints Endpoints

	idp    *entraemu.Server
	cosmos *cosmosemu.Server
	broker *servicebusemu.Broker
	blob   *azurite.Server
	faults *fault.Injector
	access *authz.AccessLog
	traces *traceview.Store

	servers   []*http.Server
	amqpsMux  *amqpsMux
	listeners []net.Listener
	stopIDP   context.CancelFunc
	bg        sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Start starts every stand-in and returns once each one answers. ctx bounds the
// start only; the stack runs until Close.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	opts = opts.withDefaults()
	if opts.ConfigPath == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("localazure: %w", err)
		}
		if opts.ConfigPath, err = stackconfig.Find(wd); err != nil {
			return nil, fmt.Errorf("localazure: %w", err)
		}
	}
	cfg, err := stackconfig.Load(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	if opts.FixedPorts {
		if err := cfg.ShiftPorts(opts.PortOffset); err != nil {
			return nil, err
		}
	}
	s := &Stack{cfg: cfg, opts: opts, log: opts.Logger, stateDir: opts.StateDir}
	s.faults = fault.New(s.log.With("service", "faults"))
	names := map[string]string{}
	for _, w := range cfg.LocalAzure.Workloads {
		names[w.ObjectID] = w.Name
	}
	s.access = authz.NewAccessLog(accessLogSize, s.log, names)
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.stateDir == "" {
		if s.stateDir, err = os.MkdirTemp("", "localazure-"); err != nil {
			return nil, fmt.Errorf("localazure: state directory: %w", err)
		}
		s.tempState = true
	} else if s.stateDir, err = filepath.Abs(s.stateDir); err != nil {
		return nil, fmt.Errorf("localazure: state directory: %w", err)
	}
	if s.ca, err = tlsca.LoadOrCreate(s.stateDir); err != nil {
		return nil, fmt.Errorf("localazure: %w", err)
	}
	leaf, err := s.ca.ServerCertificate()
	if err != nil {
		return nil, fmt.Errorf("localazure: %w", err)
	}
	// HTTP stand-ins share one leaf; ALPN offers only HTTP/1.1 (see httpServer).
	httpTLS := &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}

	// Azurite is a Node.js process that takes most of the start time: launch it first
	// and wire the in-process stand-ins while it boots.
	var blobDone chan error
	blobCtx, cancelBlob := context.WithCancel(ctx)
	defer cancelBlob()
	if opts.Blob {
		blobDone = make(chan error, 1)
		go func() { blobDone <- s.startBlob(blobCtx, leaf) }()
	}
	ports := cfg.LocalAzure.Ports.WithDefaults()
	if !opts.FixedPorts {
		ports = stackconfig.Ports{}
	}
	inProcErr := s.startInProcess(ports, httpTLS)
	if inProcErr != nil {
		cancelBlob() // no point waiting for Azurite to boot
	}
	var blobErr error
	if blobDone != nil {
		blobErr = <-blobDone
	}
	if inProcErr != nil {
		return nil, inProcErr
	}
	if blobErr != nil {
		return nil, blobErr
	}
	if s.blob != nil {
		if err := s.startBlobGate(httpTLS); err != nil {
			return nil, err
		}
	}
	for _, st := range s.Status(ctx) {
		if st.Err != nil {
			return nil, fmt.Errorf("localazure: %s at %s does not answer: %w", st.Name, st.URL, st.Err)
		}
	}
	// After the readiness probes, so that faults never stop the stack from starting.
	if err := s.faults.Set("config", cfg.LocalAzure.Faults); err != nil {
		return nil, fmt.Errorf("localazure: %w", err)
	}
	return s, nil
}

// startInProcess binds and serves the Go stand-ins.
func (s *Stack) startInProcess(ports stackconfig.Ports, httpTLS *tls.Config) error {
	la := s.cfg.LocalAzure
	lnID, err := s.bind("identity", ports.Identity)
	if err != nil {
		return err
	}
	lnKV, err := s.bind("keyvault", ports.KeyVault)
	if err != nil {
		return err
	}
	lnCosmos, err := s.bind("cosmos", ports.Cosmos)
	if err != nil {
		return err
	}
	lnAMQP, err := s.bind("servicebus-amqp", ports.ServiceBusAMQP)
	if err != nil {
		return err
	}
	lnAMQPS, err := s.bind("servicebus-amqps", ports.ServiceBusAMQPS)
	if err != nil {
		return err
	}
	lnTraces, err := s.bind("traceview", ports.TraceView)
	if err != nil {
		return err
	}
	e := &s.endpoints
	e.Authority = "https://" + hostPort(lnID) + "/"
	e.KeyVault = "https://" + hostPort(lnKV) + "/"
	e.Cosmos = "https://" + hostPort(lnCosmos) + "/"
	e.CosmosKey = cosmosemu.EmulatorKey
	e.ServiceBusAMQP = hostPort(lnAMQP)
	e.ServiceBusAMQPS = hostPort(lnAMQPS)
	// Plain HTTP on loopback, as the OTLP exporters' default endpoint scheme is.
	e.TraceView = "http://" + hostPort(lnTraces) + "/"
	s.traces = traceview.NewStore(traceViewTraces, traceViewSpans)
	e.ServiceBusConnectionString = "Endpoint=sb://" + e.ServiceBusAMQP + ";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + servicebusemu.EmulatorKey + ";UseDevelopmentEmulator=true;"

	// Identity first: every other stand-in verifies its tokens.
	if err := s.startIdentity(lnID, httpTLS); err != nil {
		return err
	}
	policy := s.cfg.Policy().WithAccessLog(s.access)
	verifier := s.idp.Verifier()

	seed, err := seedSecrets(la.KeyVault.Secrets)
	if err != nil {
		return err
	}
	kv, err := keyvaultemu.New(keyvaultemu.Options{
		VaultURL: e.KeyVault, TenantID: la.TenantID, Verifier: verifier, Policy: policy, Seed: seed,
		DataDir: s.dataDir("keyvault"),
		Logger:  s.log.With("service", "keyvault"),
	})
	if err != nil {
		return fmt.Errorf("localazure: key vault: %w", err)
	}
	s.serveHTTP("keyvault", kv.Handler(), lnKV, httpTLS)
	s.serveTraceView(lnTraces)

	var dbs []cosmosemu.Database
	for _, d := range la.Cosmos.Databases {
		db := cosmosemu.Database{ID: d.ID}
		for _, c := range d.Containers {
			db.Containers = append(db.Containers, cosmosemu.Container{ID: c.ID, PartitionKeyPath: c.PartitionKeyPath})
		}
		dbs = append(dbs, db)
	}
	if s.cosmos, err = cosmosemu.New(cosmosemu.Options{
		Endpoint: e.Cosmos, Verifier: verifier, Policy: policy, Databases: dbs,
		DataDir: s.dataDir("cosmos"), Logger: s.log, // it names itself

	}); err != nil {
		return fmt.Errorf("localazure: cosmos: %w", err)
	}
	s.serveHTTP("cosmos", s.cosmos.Handler(), lnCosmos, httpTLS)

	if s.broker, err = servicebusemu.New(servicebusemu.Options{
		Namespace: host, Entities: s.cfg.UserConfig, Verifier: verifier, Policy: policy,
		DataDir: s.dataDir("servicebus"), Logger: s.log.With("service", "servicebus"),
	}); err != nil {
		return fmt.Errorf("localazure: service bus: %w", err)
	}
	// The Go client (go-amqp) takes the namespace as given, "127.0.0.1:5671", for the
	// TLS server name. Go matches a name that is not a valid hostname exactly against
	// the DNS SANs, so naming host:port there lets SERVICEBUS_NAMESPACE work as is.
	amqpsLeaf, err := s.ca.ServerCertificate(e.ServiceBusAMQPS, "localhost:"+strconv.Itoa(portOf(lnAMQPS)))
	if err != nil {
		return fmt.Errorf("localazure: service bus: %w", err)
	}
	// No ALPN for AMQP: a client offering none must not be refused for lack of overlap.
	amqpTLS := &tls.Config{Certificates: []tls.Certificate{amqpsLeaf}, MinVersion: tls.VersionTLS12}
	mux := newAMQPSMux(lnAMQPS, amqpTLS)
	for _, ln := range []net.Listener{lnAMQP, mux.amqp} {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			// net.ErrClosed: Close shuts the AMQPS mux before the broker, so its
			// listener may report closing first. Neither is a failure.
			if err := s.broker.Serve(ln); err != nil && !errors.Is(err, servicebusemu.ErrClosed) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("service bus stopped accepting", "err", err)
			}
		}()
	}
	// AMQP over WebSockets on the same port (see amqpsMux), behind an HTTP server
	// whose TLS the mux has already done.
	wsMux := http.NewServeMux()
	s.broker.HandleWebSocket(wsMux) // with and without the trailing slash, as Service Bus
	s.faults.OnAction("servicebus", func(f string) int {
		if f == "drop-connections" {
			return s.broker.DropConnections()
		}
		return s.broker.ExpireLocks()
	})
	wsSrv := httpServer("servicebus-websocket", wsMux, nil, s.log)
	wsSrv.ReadTimeout, wsSrv.WriteTimeout = 0, 0 // a WebSocket lives as long as its AMQP connection
	s.servers = append(s.servers, wsSrv)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := wsSrv.Serve(mux.web); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("service bus WebSockets stopped accepting", "err", err)
		}
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		mux.wg.Wait()
	}()
	s.amqpsMux = mux
	return nil
}

func (s *Stack) startIdentity(ln net.Listener, httpTLS *tls.Config) error {
	la := s.cfg.LocalAzure
	authority := "https://" + hostPort(ln)
	const issuerPath = "/oidc"
	var ws []entraemu.Workload
	for _, w := range la.Workloads {
		ew := entraemu.Workload{Name: w.Name, Namespace: w.Namespace, ServiceAccount: w.ServiceAccount, ClientID: w.ClientID, ObjectID: w.ObjectID}
		for _, f := range w.FederatedCredentials {
			fc := entraemu.FederatedCredential{Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences}
			if fc.Issuer == "" {
				fc.Issuer = authority + issuerPath
			}
			if fc.Subject == "" {
				fc.Subject = w.Subject()
			}
			ew.FederatedCredentials = append(ew.FederatedCredentials, fc)
		}
		ws = append(ws, ew)
	}
	idp, err := entraemu.New(entraemu.Options{
		TenantID: la.TenantID, AuthorityURL: authority, IssuerPath: issuerPath, Workloads: ws,
		TokenDir: filepath.Join(s.stateDir, "tokens"), TokenTTL: s.opts.TokenTTL,
		Resources: s.endpointResources(), Logger: s.log.With("service", "identity"),
	})
	if err != nil {
		return fmt.Errorf("localazure: identity: %w", err)
	}
	s.idp = idp
	s.endpoints.IssuerURL = idp.IssuerURL()
	// Token files must exist before Start returns: apps read them at their first call.
	if err := idp.WriteTokenFiles(); err != nil {
		return fmt.Errorf("localazure: identity: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopIDP = cancel
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := idp.Run(ctx); err != nil {
			s.log.Error("service-account token rotation stopped", "err", err)
		}
	}()
	s.serveHTTP("identity", idp.Handler(), ln, httpTLS)
	return nil
}

// endpointResources are the audiences, beyond the services' public ones, that the
// stand-ins accept and clients ask Entra for: Cosmos DB clients ask for
// <account endpoint>/.default (Go drops the port, JavaScript keeps it), and Key Vault
// and Service Bus also accept their own endpoint as the audience.
func (s *Stack) endpointResources() []string {
	e := s.endpoints
	_, cosmosPort, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(e.Cosmos, "https://"), "/"))
	return []string{
		"https://" + host, "https://localhost",
		"https://" + host + ":" + cosmosPort, "https://localhost:" + cosmosPort,
		strings.TrimSuffix(e.KeyVault, "/"),
	}
}

func (s *Stack) startBlob(ctx context.Context, leaf tls.Certificate) error {
	dir := s.opts.AzuriteDir
	if dir == "" {
		var err error
		if dir, err = azurite.FindDir(filepath.Dir(s.cfg.Path)); err != nil {
			if dir, err = azurite.FindDir(""); err != nil {
				return fmt.Errorf("localazure: blob: %w", err)
			}
		}
	}
	certPEM, keyPEM, err := tlsca.KeyPEM(leaf)
	if err != nil {
		return fmt.Errorf("localazure: blob: %w", err)
	}
	// Azurite listens on an ephemeral port behind the gate (startBlobGate), which
	// takes the Blob port: Azurite checks no token signature and no role.
	port := 0
	srv, err := azurite.Start(ctx, azurite.Options{
		Dir: dir, Port: port, CertPEM: certPEM, KeyPEM: keyPEM, RootCAs: s.ca.Pool(),
		WorkDir: filepath.Join(s.stateDir, "azurite"), DataDir: s.dataDir("azurite"),
		Logger: s.log.With("service", "blob"),
	})
	if err != nil {
		return fmt.Errorf("localazure: blob: %w", err)
	}
	s.blob = srv
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool()}}}
	defer hc.CloseIdleConnections()
	if err := srv.CreateContainers(ctx, hc, s.cfg.LocalAzure.Storage.Containers...); err != nil {
		return fmt.Errorf("localazure: blob: %w", err)
	}
	return nil
}

// startBlobGate serves the Blob endpoint: blobgate verifies bearer tokens against the
// local Entra and enforces localazure.json's Storage roles per container, then
// streams each request to Azurite. Shared Key and SAS go through for Azurite to check.
func (s *Stack) startBlobGate(httpTLS *tls.Config) error {
	port := 0
	if s.opts.FixedPorts {
		port = s.cfg.LocalAzure.Ports.WithDefaults().Blob
	}
	ln, err := s.bind("blob", port)
	if err != nil {
		return err
	}
	upstream := strings.TrimSuffix(s.blob.URL(), "/"+azurite.Account)
	gate, err := blobgate.New(blobgate.Options{
		Upstream: upstream, Account: azurite.Account,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12},
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
		},
		Verifier: s.idp.Verifier(), Policy: s.cfg.Policy().WithAccessLog(s.access), TenantID: s.cfg.LocalAzure.TenantID,
		Logger: s.log.With("service", "blob"),
	})
	if err != nil {
		return fmt.Errorf("localazure: blob: %w", err)
	}
	s.serveHTTP("blob", gate, ln, httpTLS)
	s.endpoints.Blob = "https://" + hostPort(ln) + "/" + azurite.Account + "/"
	s.endpoints.BlobConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		azurite.Account, azurite.WellKnownKey, strings.TrimSuffix(s.endpoints.Blob, "/"))
	return nil
}

func (s *Stack) bind(name string, port int) (net.Listener, error) {
	ln, err := listen(name, port)
	if err != nil {
		return nil, fmt.Errorf("localazure: %w", err)
	}
	s.listeners = append(s.listeners, ln)
	return ln, nil
}

// serveTraceView serves the OTLP receiver and the page: plain HTTP, no faults and
// no access log (it is the stack's own tool, not a stand-in).
func (s *Stack) serveTraceView(ln net.Listener) {
	srv := httpServer("traceview", traceview.Handler(s.traces, s.access), nil, s.log)
	s.servers = append(s.servers, srv)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("trace view stopped serving", "err", err)
		}
	}()
}

// Traces are the spans the workloads exported to the trace view.
func (s *Stack) Traces() *traceview.Store { return s.traces }

func (s *Stack) serveHTTP(name string, h http.Handler, ln net.Listener, cfg *tls.Config) {
	if name != "identity" { // the token endpoint makes no RBAC decision
		h = authz.ObserveHTTP(name, s.access, h)
	}
	srv := httpServer(name, s.faults.HTTP(name, h), cfg, s.log)
	s.servers = append(s.servers, srv)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		serve(name, srv, ln, s.log)
	}()
}

func (s *Stack) dataDir(service string) string {
	if s.opts.DataDir == "" {
		return ""
	}
	return filepath.Join(s.opts.DataDir, service)
}

func seedSecrets(secrets []stackconfig.Secret) ([]keyvaultemu.Secret, error) {
	var out []keyvaultemu.Secret
	for _, sec := range secrets {
		v, err := sec.ResolveValue(nil)
		if err != nil {
			return nil, fmt.Errorf("localazure: key vault: %w", err)
		}
		ks := keyvaultemu.Secret{Name: sec.Name, Value: v, ContentType: sec.ContentType, Tags: sec.Tags, Enabled: sec.Enabled}
		nbf, exp := sec.Times()
		if !nbf.IsZero() {
			ks.NotBefore = &nbf
		}
		if !exp.IsZero() {
			ks.Expires = &exp
		}
		out = append(out, ks)
	}
	return out, nil
}

// Endpoints returns where the stand-ins listen.
func (s *Stack) Endpoints() Endpoints { return s.endpoints }

// Config is the configuration the stack runs.
func (s *Stack) Config() *stackconfig.Config { return s.cfg }

// CAFile is the CA certificate's path, what SSL_CERT_FILE names.
func (s *Stack) CAFile() string { return s.ca.CertPath() }

// CACertPool holds only the local CA, for clients in tests (Go reads SSL_CERT_FILE
// once per process, so a test cannot rely on setting it).
func (s *Stack) CACertPool() *x509.CertPool { return s.ca.Pool() }

// How much the trace view keeps: a workshop's recent orders, a few MiB.
const (
	traceViewTraces = 500
	traceViewSpans  = 500
)

// accessLogSize is how many data-plane calls Access keeps: minutes of a workshop's
// traffic, a few MiB at most.
const accessLogSize = 10000

// Access is the log of data-plane calls the stand-ins authorized or refused: which
// workload, what, the RBAC decision and the role behind it. Denials are also logged
// at WARN with the role that would have allowed them.
func (s *Stack) Access() *authz.AccessLog { return s.access }

// Faults is the fault injector in front of every stand-in: Set("runtime", rules)
// replaces the faults set at run time (localazure.json's stay, under "config").
func (s *Stack) Faults() *fault.Injector { return s.faults }

// StateDir is where the CA, token files and env files live.
func (s *Stack) StateDir() string { return s.stateDir }

// Close stops every stand-in and, for a temporary state directory, removes it.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close() // clients holding connections open past the grace period
			}
		}
		s.faults.Close()
		if s.broker != nil {
			if err := s.broker.Close(); err != nil {
				errs = append(errs, fmt.Errorf("service bus: %w", err))
			}
		}
		// Listeners a server never got to (a failed start) or the broker let go of.
		for _, ln := range s.listeners {
			ln.Close()
		}
		if s.amqpsMux != nil {
			s.amqpsMux.close()
		}
		if s.cosmos != nil {
			if err := s.cosmos.Close(); err != nil {
				errs = append(errs, fmt.Errorf("cosmos: %w", err))
			}
		}
		if s.blob != nil {
			if err := s.blob.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.stopIDP != nil {
			s.stopIDP()
		}
		s.bg.Wait()
		if s.tempState && s.stateDir != "" {
			if err := os.RemoveAll(s.stateDir); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

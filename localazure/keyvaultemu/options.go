package keyvaultemu

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// Secret seeds one secret (its first version).
type Secret struct {
	Name, Value, ContentType string
	Tags                     map[string]string
	Enabled                  *bool // nil = enabled
	NotBefore, Expires       *time.Time
}

// Options configure a Server.
type Options struct {
	// VaultURL is the public base URL, e.g. "https://localhost:8401/"; secret ids and
	// nextLinks are built on it, so clients follow them back here.
	VaultURL string
	// TenantID is the tenant named in the bearer challenge; only its tokens are accepted.
	TenantID string
	Verifier authz.Verifier
	// Policy holds the data-plane role assignments. nil grants nothing: every
	// authenticated call is refused with 403, as a vault with no assignments does.
	Policy *authz.Policy
	// Seed creates these secrets at start. With DataDir, only those missing from the
	// saved state (live or soft-deleted) are created: a generated value must outlive a
	// restart, or whatever it signed stops verifying.
	Seed []Secret
	// DataDir, when set, keeps the vault's state there: every change is on disk
	// (fsynced) before it is answered, and New loads it. "" keeps it in memory.
	DataDir string
	Logger  *slog.Logger
}

// Limits Key Vault enforces on secrets.
const (
	maxValueBytes = 25 * 1024
	maxTags       = 15
	maxTagKey     = 512
	maxTagValue   = 256
)

var secretName = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

func (o Options) normalize() (Options, error) {
	u, err := url.Parse(o.VaultURL)
	if err != nil || o.VaultURL == "" || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return o, fmt.Errorf("keyvault: VaultURL %q is not an absolute URL", o.VaultURL)
	}
	if p := strings.Trim(u.Path, "/"); p != "" || u.RawQuery != "" {
		return o, fmt.Errorf("keyvault: VaultURL %q must be the root of a host (a vault is addressed by its host)", o.VaultURL)
	}
	o.VaultURL = u.Scheme + "://" + u.Host
	if o.TenantID == "" || strings.ContainsAny(o.TenantID, "/ \",") {
		// An empty tenant in the challenge makes azsecrets re-challenge forever.
		return o, fmt.Errorf("keyvault: TenantID %q is required and must be a tenant id", o.TenantID)
	}
	if o.Verifier == nil {
		return o, errors.New("keyvault: Verifier is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for i, s := range o.Seed {
		if !secretName.MatchString(s.Name) {
			return o, fmt.Errorf("keyvault: seed secret %d: name %q must be 1-127 letters, digits or '-'", i, s.Name)
		}
		if seen[strings.ToLower(s.Name)] {
			return o, fmt.Errorf("keyvault: seed secret %q appears twice (names are case-insensitive)", s.Name)
		}
		seen[strings.ToLower(s.Name)] = true
		if msg := checkSecretLimits(s.Value, s.Tags); msg != "" {
			return o, fmt.Errorf("keyvault: seed secret %q: %s", s.Name, msg)
		}
	}
	return o, nil
}

// checkSecretLimits returns what is wrong with a value and tags, or "".
func checkSecretLimits(value string, tags map[string]string) string {
	if len(value) > maxValueBytes {
		return fmt.Sprintf("The secret value is %d bytes; the maximum is %d.", len(value), maxValueBytes)
	}
	if len(tags) > maxTags {
		return fmt.Sprintf("A secret can have at most %d tags; %d were given.", maxTags, len(tags))
	}
	for k, v := range tags {
		if k == "" || len(k) > maxTagKey || len(v) > maxTagValue {
			return fmt.Sprintf("Tag %q is invalid: keys are 1-%d characters and values at most %d.", k, maxTagKey, maxTagValue)
		}
	}
	return ""
}

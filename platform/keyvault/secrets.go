// Package keyvault implements orders.SecretSource on Azure Key Vault secrets
// (azsecrets). The current version of the signing key is cached and re-read
// periodically, so a rotated secret is picked up without a restart; every version ever
// read is kept, since secret versions are immutable, for verifying older receipts.
package keyvault

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/orders"
)

// MinKeyBytes is the shortest signing key accepted: HMAC-SHA256 wants 32 bytes of
// entropy; a shorter secret is a deployment mistake worth stopping for.
const MinKeyBytes = 16

// Getter is the part of *azsecrets.Client the source uses (a seam for tests).
type Getter interface {
	GetSecret(ctx context.Context, name, version string, options *azsecrets.GetSecretOptions) (azsecrets.GetSecretResponse, error)
}

// Secrets is the Key Vault SecretSource for one secret.
type Secrets struct {
	c       Getter
	name    string
	refresh time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu        sync.Mutex
	current   string            // version of the current key
	fetchedAt time.Time         // when current was read
	versions  map[string][]byte // every version read so far
}

var _ orders.SecretSource = (*Secrets)(nil)

// New returns the source of secret name, re-reading its current version once it is
// older than refresh.
func New(c Getter, name string, refresh time.Duration, log *slog.Logger) *Secrets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Secrets{c: c, name: name, refresh: refresh, log: log, now: time.Now, versions: map[string][]byte{}}
}

// SigningKey implements orders.SecretSource. When the cached version is due for a
// refresh but Key Vault cannot be reached, it keeps signing with the cached key (still
// a valid version) and logs, rather than stopping all order processing.
func (s *Secrets) SigningKey(ctx context.Context) ([]byte, string, error) {
	s.mu.Lock()
	cur, fresh := s.current, s.now().Sub(s.fetchedAt) < s.refresh
	key := s.versions[cur]
	s.mu.Unlock()
	if cur != "" && fresh {
		return key, cur, nil
	}
	if err := s.Refresh(ctx); err != nil {
		if cur != "" {
			s.log.WarnContext(ctx, "signing key refresh failed; using the cached version", "secret", s.name, "version", cur, "err", err)
			return key, cur, nil
		}
		return nil, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[s.current], s.current, nil
}

// Refresh reads the current version of the secret now.
func (s *Secrets) Refresh(ctx context.Context) error {
	key, version, err := s.fetch(ctx, "")
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != "" && s.current != version {
		s.log.InfoContext(ctx, "signing key rotated", "secret", s.name, "from_version", s.current, "to_version", version)
	}
	s.current, s.fetchedAt = version, s.now()
	s.versions[version] = key
	return nil
}

// KeyVersion implements orders.SecretSource.
func (s *Secrets) KeyVersion(ctx context.Context, version string) ([]byte, error) {
	if version == "" {
		return nil, orders.Errorf(orders.EINVALID, "No key version given.")
	}
	s.mu.Lock()
	key, ok := s.versions[version]
	s.mu.Unlock()
	if ok {
		return key, nil
	}
	key, got, err := s.fetch(ctx, version)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.versions[got] = key
	s.mu.Unlock()
	return key, nil
}

// Run refreshes the current version every refresh interval until ctx is done, so
// that signing never waits on Key Vault; failures are logged and retried next tick.
func (s *Secrets) Run(ctx context.Context) {
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "signing key refresh failed", "secret", s.name, "err", err)
			}
		}
	}
}

func (s *Secrets) fetch(ctx context.Context, version string) ([]byte, string, error) {
	resp, err := s.c.GetSecret(ctx, s.name, version, nil)
	if err != nil {
		if azerr.StatusCode(err) == 404 {
			return nil, "", orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("Key Vault secret %s version %q not found.", s.name, version), err)
		}
		return nil, "", azerr.Wrap(err, fmt.Sprintf("read Key Vault secret %s", s.name))
	}
	if resp.Value == nil || resp.ID == nil {
		return nil, "", fmt.Errorf("read Key Vault secret %s: response without value or id", s.name)
	}
	if resp.Attributes != nil && resp.Attributes.Enabled != nil && !*resp.Attributes.Enabled {
		return nil, "", orders.Errorf(orders.ENOTFOUND, "Key Vault secret %s version %s is disabled.", s.name, resp.ID.Version())
	}
	got := resp.ID.Version()
	if got == "" {
		return nil, "", fmt.Errorf("read Key Vault secret %s: id %q has no version", s.name, *resp.ID)
	}
	key, err := decodeKey(*resp.Value, resp.ContentType)
	if err != nil {
		return nil, "", fmt.Errorf("Key Vault secret %s version %s: %w", s.name, got, err)
	}
	if len(key) < MinKeyBytes {
		return nil, "", fmt.Errorf("Key Vault secret %s version %s is %d bytes, shorter than %d: store a random key of at least 32 bytes", s.name, got, len(key), MinKeyBytes)
	}
	return key, got, nil
}

// decodeKey turns the secret's value into key bytes. A content type naming base64
// (e.g. "application/octet-stream; base64", as localazure.json and infra/ store random
// keys) means the value is base64 of the key; otherwise the text itself is the key.
func decodeKey(value string, contentType *string) ([]byte, error) {
	if contentType == nil || !strings.Contains(strings.ToLower(*contentType), "base64") {
		return []byte(value), nil
	}
	v := strings.TrimSpace(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("content type %q says base64, but the value is not base64", *contentType)
}

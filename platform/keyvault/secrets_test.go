package keyvault

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/platform/orders"
)

// fakeVault serves versions of one secret; latest is the current one.
type fakeVault struct {
	mu       sync.Mutex
	versions map[string]string
	latest   string
	calls    int
	down     bool
}

func (f *fakeVault) GetSecret(_ context.Context, name, version string, _ *azsecrets.GetSecretOptions) (azsecrets.GetSecretResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return azsecrets.GetSecretResponse{}, &azcore.ResponseError{StatusCode: http.StatusServiceUnavailable}
	}
	if version == "" {
		version = f.latest
	}
	v, ok := f.versions[version]
	if !ok {
		return azsecrets.GetSecretResponse{}, &azcore.ResponseError{StatusCode: http.StatusNotFound, ErrorCode: "SecretNotFound"}
	}
	id := azsecrets.ID("https://kv.vault.azure.net/secrets/" + name + "/" + version)
	return azsecrets.GetSecretResponse{Secret: azsecrets.Secret{ID: &id, Value: &v}}, nil
}

func (f *fakeVault) rotate(version, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions[version] = value
	f.latest = version
}

func TestRotationPickedUpAfterRefreshInterval(t *testing.T) {
	ctx := context.Background()
	kv := &fakeVault{versions: map[string]string{}}
	kv.rotate("v1", "first-key-0123456789abcdef")
	s := New(kv, "receipt-signing-key", time.Minute, nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }

	key, ver, err := s.SigningKey(ctx)
	if err != nil || ver != "v1" || string(key) != "first-key-0123456789abcdef" {
		t.Fatalf("first: %q %q %v", key, ver, err)
	}
	kv.rotate("v2", "second-key-0123456789abcdef")
	// Cached within the interval: no call, old version.
	if _, ver, _ := s.SigningKey(ctx); ver != "v1" || kv.calls != 1 {
		t.Fatalf("within interval: version %s, %d calls", ver, kv.calls)
	}
	now = now.Add(61 * time.Second)
	if _, ver, _ := s.SigningKey(ctx); ver != "v2" {
		t.Fatalf("after interval: version %s, want v2", ver)
	}
	// The old version stays verifiable, from the cache.
	calls := kv.calls
	if k, err := s.KeyVersion(ctx, "v1"); err != nil || string(k) != "first-key-0123456789abcdef" || kv.calls != calls {
		t.Fatalf("KeyVersion(v1) = %q %v (calls %d→%d)", k, err, calls, kv.calls)
	}
	if _, err := s.KeyVersion(ctx, "v9"); orders.ErrorCode(err) != orders.ENOTFOUND {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestOutageKeepsCachedKey(t *testing.T) {
	ctx := context.Background()
	kv := &fakeVault{versions: map[string]string{}}
	kv.rotate("v1", "first-key-0123456789abcdef")
	s := New(kv, "k", time.Minute, nil)
	now := time.Now()
	s.now = func() time.Time { return now }
	if _, _, err := s.SigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	kv.down = true
	now = now.Add(time.Hour)
	if _, ver, err := s.SigningKey(ctx); err != nil || ver != "v1" {
		t.Fatalf("outage with cache: %s %v", ver, err)
	}
	// Without a cache the outage is an error the worker retries.
	s2 := New(kv, "k", time.Minute, nil)
	if _, _, err := s2.SigningKey(ctx); orders.ErrorCode(err) != orders.EUNAVAILABLE {
		t.Fatalf("outage without cache: %v", err)
	}
}

func TestShortKeyRefused(t *testing.T) {
	kv := &fakeVault{versions: map[string]string{}}
	kv.rotate("v1", "short")
	_, _, err := New(kv, "k", time.Minute, nil).SigningKey(context.Background())
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("short key accepted: %v", err)
	}
}

func TestBase64ContentTypeIsDecoded(t *testing.T) {
	raw := []byte("\x00\x01binary-key-material-32-bytes!!")
	for ct, want := range map[string][]byte{
		"application/octet-stream; base64": raw,
		"text/plain":                       []byte(base64.StdEncoding.EncodeToString(raw)),
	} {
		v := base64.StdEncoding.EncodeToString(raw)
		got, err := decodeKey(v, &ct)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q %v", ct, got, err)
		}
	}
	bad := "base64"
	if _, err := decodeKey("%%%", &bad); err == nil {
		t.Error("invalid base64 accepted")
	}
	if got, _ := decodeKey("passphrase-as-key", nil); string(got) != "passphrase-as-key" {
		t.Errorf("no content type: %q", got)
	}
}

package azure

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// NewTLSConfig returns a TLS configuration trusting the system roots plus the PEM
// certificates in caFile (if not ""). The file is read here, explicitly, rather than
// relying on Go reading SSL_CERT_FILE when it first loads the system roots: that
// happens once per process, possibly before a test has set the variable.
func NewTLSConfig(caFile string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read SSL_CERT_FILE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SSL_CERT_FILE %s holds no PEM certificate", caFile)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// NewHTTPClient returns the process's one HTTP client for every SDK pipeline and token
// request. One transport means one connection pool per host for the whole process.
func NewHTTPClient(tlsConfig *tls.Config) *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig.Clone(),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32, // the worker talks to few hosts, concurrently
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	// No Client.Timeout: the SDKs bound each try (RetryOptions.TryTimeout) and callers
	// pass contexts; a global timeout would cut long attachment uploads.
	return &http.Client{Transport: t}
}

// emulatorHTTPClient is the HTTP client for Key Vault emulators with self-signed
// certificates (KEYVAULT_AUTH=emulator only): it does not verify the server.
func emulatorHTTPClient() *http.Client {
	return NewHTTPClient(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // emulator opt-in, see newSecrets
}

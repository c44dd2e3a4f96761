package entraemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"
)

// signingKey is an RSA key with the identifiers a JWKS publishes for it.
type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
	cert []byte // self-signed certificate, published as x5c as Entra does
}

// newSigningKey makes a fresh 2048-bit key. Keys live only as long as the process:
// every token in circulation is short-lived, and clients refetch keys on unknown kids.
func newSigningKey(commonName string) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("self-sign signing key: %w", err)
	}
	// Entra's kid is the base64url SHA-1 thumbprint of the certificate (equal to x5t).
	sum := sha1.Sum(der)
	return &signingKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(sum[:]), cert: der}, nil
}

// jwk is one entry of a JSON Web Key Set.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t,omitempty"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	Issuer string   `json:"issuer,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

func (k *signingKey) jwk(withCert bool, issuer string) jwk {
	j := jwk{
		Kty: "RSA", Use: "sig", Kid: k.kid,
		N: base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
	}
	if withCert {
		j.X5t = k.kid
		j.X5c = []string{base64.StdEncoding.EncodeToString(k.cert)}
		j.Issuer = issuer
	} else {
		j.Alg = "RS256" // the Kubernetes API server's JWKS names the algorithm and no certificate
	}
	return j
}

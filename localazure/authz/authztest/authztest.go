// Package authztest mints access tokens for the stand-ins' own tests, so that a
// stand-in can be tested with a real SDK client before the local Entra is in the
// picture. Tests of the whole flow use the real WorkloadIdentityCredential instead.
package authztest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/contoso/orderflow/localazure/authz"
)

// TenantID is the tenant every token from an Issuer names.
const TenantID = "72f988bf-0000-4000-8000-000000000001"

// Issuer signs access tokens with a throw-away key and verifies them.
type Issuer struct {
	key *rsa.PrivateKey
	*authz.TokenVerifier
}

// NewIssuer makes an issuer with a fresh 2048-bit key.
func NewIssuer() *Issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	iss := "https://sts.windows.net/" + TenantID + "/"
	return &Issuer{key: key, TokenVerifier: authz.NewTokenVerifier(iss, map[string]*rsa.PublicKey{"test": &key.PublicKey})}
}

// Token mints a token for the principal with object id oid, for audience aud, valid for ttl
// (a negative ttl gives an expired token).
func (i *Issuer) Token(oid, aud string, ttl time.Duration) string {
	now := time.Now()
	t, err := authz.SignRS256(i.key, "test", authz.AccessClaims{
		Issuer: "https://sts.windows.net/" + TenantID + "/", Audience: aud, Subject: oid,
		TenantID: TenantID, ObjectID: oid, AppID: "app-" + oid, IDType: "app", Version: "1.0",
		IssuedAt: now.Add(-time.Minute).Unix(), NotBefore: now.Add(-time.Minute).Unix(), Expires: now.Add(ttl).Unix(),
	})
	if err != nil {
		panic(err)
	}
	return t
}

// Credential returns an azcore.TokenCredential that gets tokens for oid from this issuer.
// The audience is the requested scope without "/.default", as Entra does.
func (i *Issuer) Credential(oid string) azcore.TokenCredential { return credential{i, oid} }

type credential struct {
	i   *Issuer
	oid string
}

func (c credential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	aud := ""
	if len(opts.Scopes) > 0 {
		aud = strings.TrimSuffix(opts.Scopes[0], "/.default")
	}
	exp := time.Now().Add(time.Hour)
	return azcore.AccessToken{Token: c.i.Token(c.oid, aud, time.Hour), ExpiresOn: exp}, nil
}

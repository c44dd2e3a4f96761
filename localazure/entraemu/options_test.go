package entraemu

import (
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	base := func() Options {
		return Options{TenantID: testTenant, AuthorityURL: "https://localhost:8400", Workloads: testWorkloads()}
	}
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no tenant", func(o *Options) { o.TenantID = "" }, "TenantID is required"},
		{"common tenant", func(o *Options) { o.TenantID = "common" }, "not a tenant id"},
		{"http authority", func(o *Options) { o.AuthorityURL = "http://localhost:8400" }, "must be https"},
		{"authority with path", func(o *Options) { o.AuthorityURL = "https://localhost:8400/x" }, "must be https://host"},
		{"issuer path", func(o *Options) { o.IssuerPath = "oidc/" }, "IssuerPath"},
		{"issuer path on tenant", func(o *Options) { o.IssuerPath = "/" + testTenant }, "collides"},
		{"duplicate name", func(o *Options) { o.Workloads[1].Name = "frontend" }, "duplicate workload name"},
		{"bad name", func(o *Options) { o.Workloads[0].Name = "../x" }, "Name must be"},
		{"bad namespace", func(o *Options) { o.Workloads[0].Namespace = "Order_Flow" }, "Namespace"},
		{"no service account", func(o *Options) { o.Workloads[0].ServiceAccount = "" }, "ServiceAccount"},
		{"no client id", func(o *Options) { o.Workloads[0].ClientID = "" }, "ClientID is required"},
		{"duplicate client id", func(o *Options) { o.Workloads[1].ClientID = strings.ToUpper(frontendApp) }, "used by another workload"},
		{"no object id", func(o *Options) { o.Workloads[0].ObjectID = "" }, "ObjectID is required"},
		{"duplicate object id", func(o *Options) { o.Workloads[1].ObjectID = frontendOID }, "used by another workload"},
		{"fic issuer", func(o *Options) {
			o.Workloads[0].FederatedCredentials = []FederatedCredential{{Issuer: "http://x", Subject: "s"}}
		}, "must be an https URL"},
		{"fic subject", func(o *Options) {
			o.Workloads[0].FederatedCredentials = []FederatedCredential{{Issuer: "https://x", Subject: ""}}
		}, "Subject is required"},
		{"fic two audiences", func(o *Options) {
			o.Workloads[0].FederatedCredentials = []FederatedCredential{{Issuer: "https://x", Subject: "s", Audiences: []string{"a", "b"}}}
		}, "exactly one audience"},
		{"fic duplicate names", func(o *Options) {
			o.Workloads[0].FederatedCredentials = []FederatedCredential{{Name: "x", Issuer: "https://x", Subject: "s"}, {Name: "X", Issuer: "https://x", Subject: "t"}}
		}, "duplicate federated credential name"},
		{"too many fics", func(o *Options) {
			for i := range 21 {
				o.Workloads[0].FederatedCredentials = append(o.Workloads[0].FederatedCredentials, FederatedCredential{Issuer: "https://x", Subject: strings.Repeat("s", i+1)})
			}
		}, "at most 20"},
		{"negative ttl", func(o *Options) { o.TokenTTL = -time.Second }, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base()
			c.edit(&o)
			if _, err := o.normalize(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	o, err := base().normalize()
	if err != nil {
		t.Fatal(err)
	}
	f := o.Workloads[0].FederatedCredentials
	if len(f) != 1 || f[0].Issuer != "https://localhost:8400/oidc" || f[0].Subject != "system:serviceaccount:orderflow:frontend" ||
		f[0].Audiences[0] != TokenExchangeAudience || o.TokenTTL != time.Hour {
		t.Errorf("defaults %+v", o)
	}
}

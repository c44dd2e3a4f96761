package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

const secretUsage = `usage:
  localazure secret set <name> (--value v | --generate N) [--content-type t] [--as workload]
  localazure secret list <name> [--as workload]
Writes a new version to, or lists the versions of, a secret in the running stack's Key
Vault, as a real client does: with a workload's token file, through the local Entra.
The workload is the one holding Key Vault Secrets Officer (or Administrator) on the
secret in localazure.json (secrets-writer in orderflow's), unless --as names one.
`

// base64ContentType is what a generated value is stored with; the services read it as
// "decode the value from base64" (platform/keyvault), as for localazure.json's generate:N.
const base64ContentType = "application/octet-stream; base64"

// cliTimeout bounds one command's calls, so a stopped stack fails fast.
const cliTimeout = 30 * time.Second

// secretCmd adds a version to, or lists the versions of, a Key Vault secret of the
// running stack.
func secretCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("secret: say set or list\n%s", secretUsage)}
	}
	verb, args := args[0], args[1:]
	if verb != "set" && verb != "list" {
		return usageError{fmt.Errorf("secret: unknown verb %q\n%s", verb, secretUsage)}
	}
	fs := flag.NewFlagSet("localazure secret "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	as := fs.String("as", "", "the workload whose identity makes the call (default: the one holding the role in localazure.json)")
	var value, contentType string
	var generate int
	if verb == "set" {
		fs.StringVar(&value, "value", "", "the new version's value (stored as text, without a content type)")
		fs.IntVar(&generate, "generate", 0, "make the value from N random bytes, base64-encoded, content type "+base64ContentType)
		fs.StringVar(&contentType, "content-type", "", "the new version's content type (default: none for --value, "+base64ContentType+" for --generate)")
	}
	name, args := positional(args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{fmt.Errorf("secret %s: unexpected argument %q", verb, fs.Arg(0))}
	}
	if name == "" {
		return usageError{fmt.Errorf("secret %s: name the secret, e.g. `localazure secret %s receipt-signing-key`", verb, verb)}
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	if verb == "set" {
		if setFlags["value"] == setFlags["generate"] {
			return usageError{errors.New("secret set: give exactly one of --value and --generate N")}
		}
		if setFlags["generate"] && (generate < 1 || generate > 4096) {
			return usageError{fmt.Errorf("secret set: --generate %d: use 1 to 4096 bytes (32 for an HMAC-SHA256 key)", generate)}
		}
	}

	configPath, stateDir, err := common.resolve()
	if err != nil {
		return err
	}
	cfg, err := stackconfig.Load(configPath)
	if err != nil {
		return err
	}
	scope := "keyvault/secrets/" + strings.ToLower(name)
	roles := []string{authz.KeyVaultSecretsOfficer, authz.KeyVaultAdministrator}
	if verb == "list" && *as == "" && pickable(cfg, scope, roles) == "" {
		// Listing needs no write role; the writer is preferred only so that the lab's
		// access log shows one identity throughout.
		roles = []string{authz.KeyVaultSecretsOfficer, authz.KeyVaultAdministrator, authz.KeyVaultSecretsUser, "Key Vault Reader"}
	}
	wl, err := pickWorkload(cfg, *as, scope, roles)
	if err != nil {
		return err
	}
	env, err := readWorkloadEnv(stateDir, wl)
	if err != nil {
		return err
	}
	vaultVar := cfg.LocalAzure.EndpointEnv.KeyVault
	vault := env[vaultVar]
	if vaultVar == "" || vault == "" {
		return fmt.Errorf("the env file of %s has no Key Vault URL: set LocalAzure.endpointEnv.keyVault in %s and restart `localazure up`", wl, configPath)
	}
	cred, opts, err := workloadCredential(env)
	if err != nil {
		return fmt.Errorf("credential of workload %s: %w", wl, err)
	}
	client, err := azsecrets.NewClient(vault, cred, &azsecrets.ClientOptions{
		ClientOptions: opts,
		// The vault's host is 127.0.0.1, not *.vault.azure.net (localazure/README.md).
		DisableChallengeResourceVerification: true,
	})
	if err != nil {
		return fmt.Errorf("key vault client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()

	if verb == "list" {
		return listVersions(ctx, client, name, wl, stdout)
	}
	if setFlags["generate"] {
		b := make([]byte, generate)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		value = base64.StdEncoding.EncodeToString(b)
		if !setFlags["content-type"] {
			contentType = base64ContentType
		}
	}
	params := azsecrets.SetSecretParameters{Value: &value}
	if contentType != "" {
		params.ContentType = &contentType
	}
	resp, err := client.SetSecret(ctx, name, params, nil)
	if err != nil {
		return fmt.Errorf("set secret %s as workload %s: %w", name, wl, hintStackDown(err))
	}
	if resp.ID == nil {
		return fmt.Errorf("set secret %s: the vault answered without an id", name)
	}
	fmt.Fprintf(stderr, "secret %s: new version written as workload %s\n", name, wl)
	fmt.Fprintln(stdout, resp.ID.Version())
	return nil
}

// listVersions prints the secret's versions, newest first.
func listVersions(ctx context.Context, client *azsecrets.Client, name, wl string, w io.Writer) error {
	var items []*azsecrets.SecretProperties
	pager := client.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions of %s as workload %s: %w", name, wl, hintStackDown(err))
		}
		items = append(items, page.Value...)
	}
	created := func(p *azsecrets.SecretProperties) time.Time {
		if p.Attributes == nil || p.Attributes.Created == nil {
			return time.Time{}
		}
		return *p.Attributes.Created
	}
	// Created has whole seconds, so versions made in one second tie. The vault answers
	// the latest version to a get without one, which is what the services sign with:
	// it goes first among its ties, the others keep the reverse of the listing order
	// (Key Vault lists oldest first).
	latest := ""
	if resp, err := client.GetSecret(ctx, name, "", nil); err == nil && resp.ID != nil {
		latest = resp.ID.Version()
	}
	version := func(p *azsecrets.SecretProperties) string {
		if p.ID == nil {
			return ""
		}
		return p.ID.Version()
	}
	slices.Reverse(items)
	slices.SortStableFunc(items, func(a, b *azsecrets.SecretProperties) int {
		if c := created(b).Compare(created(a)); c != 0 {
			return c
		}
		switch latest {
		case version(a):
			return -1
		case version(b):
			return 1
		}
		return 0
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tCREATED\tENABLED\tLATEST")
	for _, p := range items {
		enabled := p.Attributes != nil && (p.Attributes.Enabled == nil || *p.Attributes.Enabled)
		mark := ""
		if version(p) == latest {
			mark = "latest"
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", version(p), created(p).Local().Format(time.RFC3339), enabled, mark)
	}
	return tw.Flush()
}

// The helpers below are shared by `secret` and `peek`: both call a stand-in as one of
// the configuration's workloads, with the environment `up` wrote for it.

// positional takes a leading argument that is not a flag, so that a name may come
// before or after the flags (`secret set name --generate 32`).
func positional(args []string) (string, []string) {
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

// pickable returns the first workload, in file order, holding one of roles at scope.
func pickable(cfg *stackconfig.Config, scope string, roles []string) string {
	p := cfg.Policy()
	for _, w := range cfg.LocalAzure.Workloads {
		if p.Allowed(strings.ToLower(w.ObjectID), scope, roles...) {
			return w.Name
		}
	}
	return ""
}

// pickWorkload is the workload named by --as, or the first one whose role assignments
// allow the call. A named workload without the role is used anyway: the stand-in then
// refuses it, as Azure would, which is worth seeing.
func pickWorkload(cfg *stackconfig.Config, as, scope string, roles []string) (string, error) {
	if as != "" {
		if _, ok := cfg.Workload(as); !ok {
			return "", usageError{fmt.Errorf("--as %s: no workload %q in %s; use one of: %s", as, as, cfg.Path, strings.Join(cfg.WorkloadNames(), ", "))}
		}
		return as, nil
	}
	if w := pickable(cfg, scope, roles); w != "" {
		return w, nil
	}
	return "", fmt.Errorf("no workload in %s holds %s on %s: add a roleAssignment for one (e.g. {\"principal\": \"<workload>\", \"role\": %q, \"scope\": %q}), restart `localazure up`, or pass --as",
		cfg.Path, strings.Join(roles, " or "), scope, roles[0], scope)
}

// readWorkloadEnv reads the env file `up` wrote for the workload.
func readWorkloadEnv(stateDir, workload string) (map[string]string, error) {
	p := filepath.Join(stateDir, workload+".env")
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no env file for workload %q in %s: start the stack with `localazure up` (or `make run`); a workload added to localazure.json since `up` started needs `up` restarted", workload, stateDir)
	}
	if err != nil {
		return nil, err
	}
	env, err := stack.ParseEnv(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return env, nil
}

// workloadCredential is the workload identity credential the workload's pod would
// build from its environment, and client options trusting the local CA.
func workloadCredential(env map[string]string) (azcore.TokenCredential, azcore.ClientOptions, error) {
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"} {
		if env[k] == "" {
			return nil, azcore.ClientOptions{}, fmt.Errorf("the env file has no %s", k)
		}
	}
	tlsConf, err := tlsConfigFor(env)
	if err != nil {
		return nil, azcore.ClientOptions{}, err
	}
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: env["AZURE_AUTHORITY_HOST"]},
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: cliTimeout},
		Retry:     policy.RetryOptions{MaxRetries: 1}, // a command, not a service: fail fast
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: opts,
		ClientID:      env["AZURE_CLIENT_ID"],
		TenantID:      env["AZURE_TENANT_ID"],
		TokenFilePath: env["AZURE_FEDERATED_TOKEN_FILE"],
		// Instance discovery would ask login.microsoftonline.com about a local host.
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, azcore.ClientOptions{}, err
	}
	return cred, opts, nil
}

// tlsConfigFor trusts the local CA that SSL_CERT_FILE names. Go reads SSL_CERT_FILE
// only from the process environment, and this one's is not the workload's.
func tlsConfigFor(env map[string]string) (*tls.Config, error) {
	caFile := env["SSL_CERT_FILE"]
	if caFile == "" {
		return &tls.Config{}, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("local CA %s holds no certificate", caFile)
	}
	return &tls.Config{RootCAs: pool}, nil
}

// hintStackDown adds the likely reason to a connection failure.
func hintStackDown(err error) error {
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		return err
	}
	if strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w (is `localazure up` running?)", err)
	}
	return err
}

package keyvaultemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeScript drives the JavaScript SDKs (MSAL Node underneath) through the same flow.
const nodeScript = `
const { WorkloadIdentityCredential } = require("@azure/identity");
const { SecretClient } = require("@azure/keyvault-secrets");
(async () => {
  const cred = new WorkloadIdentityCredential({ disableInstanceDiscovery: true });
  const client = new SecretClient(process.env.KEYVAULT_URL, cred, { disableChallengeResourceVerification: true });
  const out = {};
  out.value = (await client.getSecret("receipt-signing-key")).value;
  try { await client.setSecret("receipt-signing-key", "x"); out.set = "allowed"; }
  catch (e) { out.set = e.statusCode + " " + e.code; }
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
`

// TestNodeSDKInterop checks that clients in another language work too: MSAL Node needs
// the full discovery document and takes the tenant from Key Vault's real challenge.
// It runs only when LOCALAZURE_NODE_MODULES names a node_modules holding
// @azure/identity and @azure/keyvault-secrets (npm install them anywhere).
func TestNodeSDKInterop(t *testing.T) {
	mods := os.Getenv("LOCALAZURE_NODE_MODULES")
	if mods == "" {
		t.Skip("set LOCALAZURE_NODE_MODULES to a node_modules with @azure/identity and @azure/keyvault-secrets")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	f := startFlow(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	script := filepath.Join(dir, "interop.js")
	if err := os.WriteFile(ca, testCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(nodeScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"NODE_PATH="+mods, "NODE_EXTRA_CA_CERTS="+ca,
		"AZURE_AUTHORITY_HOST="+f.authz, "AZURE_TENANT_ID="+flowTenant, "AZURE_CLIENT_ID="+frontendApp,
		"AZURE_FEDERATED_TOKEN_FILE="+f.entra.TokenFile("frontend"), "KEYVAULT_URL="+f.kv.url+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct{ Value, Set string }
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Value != "k3y" || got.Set != "403 Forbidden" {
		t.Errorf("node SDK: %+v\n%s", got, out)
	}
}

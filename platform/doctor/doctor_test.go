package doctor_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
)

func run(t *testing.T, service string, env map[string]string, write bool) doctor.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := doctor.Run(ctx, doctor.Options{
		Service: service, Getenv: func(k string) string { return env[k] }, Write: write, CheckTimeout: 10 * time.Second,
	})
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			var b bytes.Buffer
			doctor.WriteText(&b, rep)
			t.Logf("report:\n%s", b.String())
		}
	})
	return rep
}

// wantRow asserts the status of a row and that its detail and fix hold the texts.
func wantRow(t *testing.T, rep doctor.Report, name string, status doctor.Status, detail, fix []string) doctor.Row {
	t.Helper()
	r := rep.Row(name)
	if r.Name == "" {
		t.Fatalf("no row %q", name)
	}
	if r.Status != status {
		t.Errorf("%s: status %s, want %s (detail: %s)", name, r.Status, status, r.Detail)
	}
	for _, s := range detail {
		if !strings.Contains(r.Detail, s) {
			t.Errorf("%s: detail lacks %q:\n%s", name, s, r.Detail)
		}
	}
	for _, s := range fix {
		if !strings.Contains(r.Fix, s) {
			t.Errorf("%s: fix lacks %q:\n%s", name, s, r.Fix)
		}
	}
	return r
}

func TestFrontendAllOK(t *testing.T) {
	rep := run(t, "frontend", workloadEnv(t, "frontend"), true)
	if !rep.OK {
		t.Fatal("the stack's frontend env has problems")
	}
	want := []string{"webhook-variables", "config", "token-file", "entra-exchange", "keyvault-secret", "cosmos-read",
		"blob-read:attachments", "blob-write:attachments", "blob-read:receipts", "servicebus-send:orders", "servicebus-peek:order-events/frontend"}
	for _, n := range want {
		wantRow(t, rep, n, doctor.OK, nil, nil)
	}
	if len(rep.Rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rep.Rows), len(want))
	}
	wantRow(t, rep, "token-file", doctor.OK, []string{"sub=system:serviceaccount:orderflow:frontend", "aud=api://AzureADTokenExchange"}, nil)
}

func TestBackendAllOK(t *testing.T) {
	rep := run(t, "backend", workloadEnv(t, "backend"), true)
	if !rep.OK {
		t.Fatal("the stack's backend env has problems")
	}
	for _, n := range []string{"entra-exchange", "keyvault-secret", "cosmos-read", "blob-read:receipts", "blob-write:receipts",
		"servicebus-peek:orders", "servicebus-send:order-events"} {
		wantRow(t, rep, n, doctor.OK, nil, nil)
	}
}

// Without --write nothing is written: the write probes are skipped, which is not a
// problem.
func TestWriteProbesSkippedByDefault(t *testing.T) {
	rep := run(t, "frontend", workloadEnv(t, "frontend"), false)
	if !rep.OK {
		t.Fatal("skipped write probes made the report fail")
	}
	wantRow(t, rep, "blob-write:attachments", doctor.Skipped, []string{"--write", "Storage Blob Data Contributor"}, nil)
	wantRow(t, rep, "servicebus-send:orders", doctor.Skipped, []string{"--write"}, nil)
}

func TestMissingClientID(t *testing.T) {
	env := workloadEnv(t, "frontend")
	delete(env, "AZURE_CLIENT_ID")
	rep := run(t, "frontend", env, false)
	if rep.OK {
		t.Fatal("report ok without AZURE_CLIENT_ID")
	}
	wantRow(t, rep, "webhook-variables", doctor.Problem, []string{"AZURE_CLIENT_ID not set"},
		[]string{"azure.workload.identity/client-id", "deploy/base/frontend-serviceaccount.yaml"})
	wantRow(t, rep, "config", doctor.Problem, []string{"AZURE_CLIENT_ID is not set"}, nil)
	wantRow(t, rep, "entra-exchange", doctor.Skipped, []string{"configuration"}, nil)
	wantRow(t, rep, "permissions", doctor.Skipped, []string{"configuration"}, nil)
}

// In a pod (KUBERNETES_SERVICE_HOST set) with none of the variables, the webhook
// did not run: the label or the webhook itself is missing.
func TestNoWebhookInPod(t *testing.T) {
	env := workloadEnv(t, "frontend")
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"} {
		delete(env, k)
	}
	env["KUBERNETES_SERVICE_HOST"] = "10.0.0.1"
	rep := run(t, "frontend", env, false)
	wantRow(t, rep, "webhook-variables", doctor.Problem, []string{"did not mutate"},
		[]string{`azure.workload.identity/use: "true"`, "mutatingwebhookconfiguration"})
	wantRow(t, rep, "token-file", doctor.Skipped, nil, nil)
}

// The backend's token under the frontend's client id: the local Entra finds no
// federated credential of the frontend identity for the backend's subject.
func TestWrongSubject(t *testing.T) {
	env := workloadEnv(t, "frontend")
	env["AZURE_FEDERATED_TOKEN_FILE"] = workloadEnv(t, "backend")["AZURE_FEDERATED_TOKEN_FILE"]
	rep := run(t, "frontend", env, false)
	if rep.OK {
		t.Fatal("report ok with the backend's token")
	}
	wantRow(t, rep, "token-file", doctor.OK, []string{"sub=system:serviceaccount:orderflow:backend", `not deploy/base's "frontend"`}, nil)
	wantRow(t, rep, "entra-exchange", doctor.Problem, []string{"AADSTS700213", "no federated credential matches"},
		[]string{doctor.IdentityBicep, "az identity federated-credential list", "subject system:serviceaccount:orderflow:backend", env["AZURE_CLIENT_ID"]})
	wantRow(t, rep, "keyvault-secret", doctor.Skipped, []string{"Entra issued no token"}, nil)
}

// writeToken writes an unsigned JWT with the given claims: the doctor must judge the
// claims itself, before asking Entra.
func writeToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"RS256","kid":"test"}`)) + "." + enc(b) + "." + enc([]byte("not-a-signature"))
	path := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func saClaims(iss string, exp time.Time, aud any) map[string]any {
	return map[string]any{
		"iss": iss, "sub": "system:serviceaccount:orderflow:frontend", "aud": aud, "exp": exp.Unix(), "nbf": exp.Add(-time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "orderflow", "serviceaccount": map[string]any{"name": "frontend"}},
	}
}

func TestExpiredToken(t *testing.T) {
	env := workloadEnv(t, "frontend")
	env["AZURE_FEDERATED_TOKEN_FILE"] = writeToken(t, saClaims(local.Require(t).Endpoints().IssuerURL, time.Now().Add(-10*time.Minute), []string{doctor.ExchangeAudience}))
	rep := run(t, "frontend", env, false)
	r := wantRow(t, rep, "token-file", doctor.Problem, []string{"expired 10m", "sub=system:serviceaccount:orderflow:frontend"}, []string{"restart the pod"})
	if strings.Contains(r.Detail, "not-a-signature") || strings.Contains(r.Detail, "eyJ") {
		t.Errorf("the detail shows the token: %s", r.Detail)
	}
	// Caught before the exchange: Entra is not asked.
	wantRow(t, rep, "entra-exchange", doctor.Skipped, []string{"token-file"}, nil)
}

func TestWrongAudience(t *testing.T) {
	env := workloadEnv(t, "frontend")
	env["AZURE_FEDERATED_TOKEN_FILE"] = writeToken(t, saClaims(local.Require(t).Endpoints().IssuerURL, time.Now().Add(time.Hour), "https://kubernetes.default.svc"))
	rep := run(t, "frontend", env, false)
	wantRow(t, rep, "token-file", doctor.Problem, []string{`aud is "https://kubernetes.default.svc", not api://AzureADTokenExchange`},
		[]string{"serviceAccountToken", doctor.IdentityBicep})
	wantRow(t, rep, "entra-exchange", doctor.Skipped, nil, nil)
}

// The frontend writing into the receipts container, where it is only a Reader.
func TestMissingRole(t *testing.T) {
	env := workloadEnv(t, "frontend")
	env["ATTACHMENTS_CONTAINER"] = "receipts"
	rep := run(t, "frontend", env, true)
	if rep.OK {
		t.Fatal("report ok without the write role")
	}
	wantRow(t, rep, "blob-read:receipts", doctor.OK, nil, nil)
	wantRow(t, rep, "blob-write:receipts", doctor.Problem, []string{"403"},
		[]string{"Storage Blob Data Contributor", "infra/modules/storage.bicep", "attachmentsAssignments", `"scope": "storage/receipts"`})
	// Everything else still works.
	wantRow(t, rep, "entra-exchange", doctor.OK, nil, nil)
	wantRow(t, rep, "servicebus-send:orders", doctor.OK, nil, nil)
}

// The backend peeking the frontend's subscription: a Receiver role it lacks (it is
// granted Receiver on the orders queue only).
func TestMissingServiceBusRole(t *testing.T) {
	env := workloadEnv(t, "frontend")
	env["AZURE_CLIENT_ID"] = workloadEnv(t, "backend")["AZURE_CLIENT_ID"]
	env["AZURE_FEDERATED_TOKEN_FILE"] = workloadEnv(t, "backend")["AZURE_FEDERATED_TOKEN_FILE"]
	rep := run(t, "frontend", env, false)
	wantRow(t, rep, "servicebus-peek:order-events/frontend", doctor.Problem, []string{"denied"},
		[]string{"Azure Service Bus Data Receiver", "infra/modules/servicebus.bicep", "subscriptionAssignments"})
}

func TestUnreachableAuthority(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	env := workloadEnv(t, "frontend")
	env["AZURE_AUTHORITY_HOST"] = "https://" + addr + "/"
	start := time.Now()
	rep := run(t, "frontend", env, false)
	wantRow(t, rep, "entra-exchange", doctor.Problem, []string{"cannot reach the authority https://" + addr}, []string{"AZURE_AUTHORITY_HOST", "egress"})
	t.Logf("unreachable authority diagnosed in %s", time.Since(start).Round(time.Millisecond))
}

// Main prints JSON with --json and exits 1 on a problem, 0 when all is well.
func TestMainJSONAndExitCode(t *testing.T) {
	env := workloadEnv(t, "backend")
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if code := doctor.Main([]string{"--json"}, getenv, &out, "backend"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	var rep doctor.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if !rep.OK || rep.Service != "backend" || rep.Row("entra-exchange").Status != doctor.OK {
		t.Errorf("report = %+v", rep)
	}

	delete(env, "AZURE_TENANT_ID")
	out.Reset()
	if code := doctor.Main(nil, getenv, &out, "backend"); code != 1 {
		t.Fatalf("exit %d with AZURE_TENANT_ID unset:\n%s", code, out.String())
	}
	for _, s := range []string{"CHECK", "webhook-variables", "problem", "fix: AZURE_TENANT_ID"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}
	if code := doctor.Main([]string{"--bogus"}, getenv, &out, "backend"); code != 2 {
		t.Errorf("exit %d for a bad flag, want 2", code)
	}
}

// The Bicep files and parameters the fixes name must exist, so that a refactor of
// infra/ cannot leave the doctor pointing at nothing.
func TestFixesNameRealBicep(t *testing.T) {
	root := filepath.Join("..", "..")
	checks := map[string][]string{
		doctor.IdentityBicep:                       {"federatedIdentityCredentials", "api://AzureADTokenExchange"},
		"infra/modules/keyvault.bicep":             {"readerPrincipalIds", "keyVaultSecretsUser"},
		"infra/modules/cosmos.bicep":               {"contributorPrincipalIds"},
		"infra/modules/storage.bicep":              {"attachmentsAssignments", "receiptsAssignments"},
		"infra/modules/servicebus.bicep":           {"queueAssignments", "topicAssignments", "subscriptionAssignments"},
		"infra/modules/aks.bicep":                  {"oidcIssuerProfile"},
		"infra/main.bicep":                         {"frontendIdentity", "backendIdentity", "output frontendClientId"},
		"deploy/base/frontend-serviceaccount.yaml": {"azure.workload.identity/client-id"},
		"deploy/base/backend-serviceaccount.yaml":  {"azure.workload.identity/client-id"},
		"deploy/base/frontend-deployment.yaml":     {`azure.workload.identity/use: "true"`},
	}
	for file, wants := range checks {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		for _, w := range wants {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
}

func ExampleWriteText() {
	doctor.WriteText(os.Stdout, doctor.Report{Service: "frontend", Rows: []doctor.Row{
		{Name: "token-file", Status: doctor.OK, Detail: "iss=https://issuer sub=system:serviceaccount:orderflow:frontend"},
		{Name: "entra-exchange", Status: doctor.Problem, Detail: "AADSTS700213: no federated credential matches", Fix: fmt.Sprintf("see %s", doctor.IdentityBicep)},
	}})
	// Output:
	// CHECK           STATUS   DETAIL
	// token-file      ok       iss=https://issuer sub=system:serviceaccount:orderflow:frontend
	// entra-exchange  problem  AADSTS700213: no federated credential matches
	//                          fix: see infra/modules/identity.bicep
	//
	// frontend: at least one problem; fix the first one first, the later rows often follow from it
}

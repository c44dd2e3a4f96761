package deploy_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Fake az, kubectl, kubelogin and openssl: they log their arguments and answer what
// deploy.sh asks, so the script's logic runs for real without Azure.
// FAKE_ACCOUNT_TYPE (user or servicePrincipal), FAKE_ACCOUNT_NAME, FAKE_TOKEN (an
// access token, empty for none), FAKE_GRAPH=refused and FAKE_ACR_TASKS=refused
// play the kinds of login and subscription deploy.sh must cope with.
const fakeAz = `#!/usr/bin/env bash
echo "az $*" >>"$FAKE_LOG"
case "$*" in
  "account show --query [name, id] -o tsv") printf 'sub\t0000\n' ;;
  "account show --query user.type -o tsv") echo "${FAKE_ACCOUNT_TYPE:-user}" ;;
  "account show --query user.name -o tsv") echo "${FAKE_ACCOUNT_NAME:-someone@example.com}" ;;
  "account get-access-token --resource-type arm --query accessToken -o tsv") echo "$FAKE_TOKEN" ;;
  "ad "*) if [[ $FAKE_GRAPH == refused ]]; then
      echo "ERROR: Insufficient privileges to complete the operation." >&2; exit 1; fi
    echo 99999999-9999-9999-9999-999999999999 ;;
  "deployment group create"*) echo "deployer-env $DEPLOYER_PRINCIPAL_ID $DEPLOYER_PRINCIPAL_TYPE" >>"$FAKE_LOG" ;;
  "acr build"*) if [[ $FAKE_ACR_TASKS == refused ]]; then
      echo "(TasksOperationsNotAllowed) ACR Tasks requests for the registry crorderflowabc are not permitted." >&2; exit 1; fi ;;
  "deployment group show"*) printf '%s\n' tenant-1 aks-orderflow-abc crorderflowabc crorderflowabc.azurecr.io \
      11111111-1111-1111-1111-111111111111 22222222-2222-2222-2222-222222222222 33333333-3333-3333-3333-333333333333 \
      kv-orderflow-abc https://kv-orderflow-abc.vault.azure.net/ https://cosmos-orderflow-abc.documents.azure.com:443/ \
      https://storderflowabc.blob.core.windows.net/ sb-orderflow-abc.servicebus.windows.net sb-orderflow-abc ;;
  "keyvault secret list"*) echo "$FAKE_SECRET_COUNT" ;;
  "keyvault secret set"*)
      f=$(sed -n 's/.*--file \([^ ]*\).*/\1/p' <<<"$*"); echo "secret-file-content $(cat "$f")" >>"$FAKE_LOG" ;;
  "aks get-credentials"*) f=$(sed -n 's/.*--file \([^ ]*\).*/\1/p' <<<"$*"); : >"$f" ;;
esac
`

const fakeKubectl = `#!/usr/bin/env bash
echo "kubectl $*" >>"$FAKE_LOG"
case "$*" in
  "auth can-i"*) echo yes ;;
  "apply -k"*) cp "${@: -1}/aks.env" "$FAKE_DIR/applied-aks.env" ;;
  *"get service frontend"*) echo 20.1.2.3 ;;
esac
`

func TestDeployScriptAgainstFakes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root := repoRoot(t)
	// A copy: deploy.sh writes deploy/overlays/aks/aks.env next to itself.
	work := copyFiles(t, "scripts/deploy.sh", "scripts/lib/common.sh", "scripts/lib/deployer.sh", "infra/main.bicepparam", "deploy/overlays/aks/aks.env.example")
	bin := filepath.Join(work, "fakebin")
	os.MkdirAll(bin, 0o755)
	for name, body := range map[string]string{
		"az": fakeAz, "kubectl": fakeKubectl,
		"kubelogin": "#!/usr/bin/env bash\necho \"kubelogin $*\" >>\"$FAKE_LOG\"\n",
		"openssl": "#!/usr/bin/env bash\necho \"openssl $*\" >>\"$FAKE_LOG\"\n" +
			"if [[ $1 == base64 ]]; then exec base64 -d; fi\necho 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80='\n",
		"docker": "#!/usr/bin/env bash\necho \"docker $*\" >>\"$FAKE_LOG\"\n",
	} {
		os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755)
	}
	logf := filepath.Join(work, "calls.log")
	// try runs deploy.sh with extra environment (KEY=VALUE) and arguments.
	try := func(env []string, args ...string) (calls, out string, err error) {
		os.Remove(logf)
		cmd := exec.Command("bash", append([]string{filepath.Join(work, "scripts/deploy.sh"), "-g", "rg-test", "--tag", "t1"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+logf, "FAKE_DIR="+work,
			"FAKE_SECRET_COUNT=0", "HOME="+work, "XDG_CACHE_HOME="+filepath.Join(work, "cache"))
		cmd.Env = append(cmd.Env, env...)
		b, err := cmd.CombinedOutput()
		c, _ := os.ReadFile(logf)
		return string(c), string(b), err
	}
	runWith := func(env []string, args ...string) string {
		t.Helper()
		calls, out, err := try(env, args...)
		if err != nil {
			t.Fatalf("deploy.sh %v %v: %v\n%s", env, args, err, out)
		}
		if !strings.Contains(out, "orderflow is up: http://20.1.2.3/") {
			t.Fatalf("deploy.sh did not print the app URL:\n%s", out)
		}
		return calls
	}
	run := func(secretCount string) string { return runWith([]string{"FAKE_SECRET_COUNT=" + secretCount}) }

	calls := run("0")
	for _, want := range []string{
		"az group create -n rg-test",
		"az deployment group create -g rg-test -n orderflow --parameters infra/main.bicepparam",
		"openssl rand -base64 32",
		"az keyvault secret set --vault-name kv-orderflow-abc -n receipt-signing-key --file",
		"secret-file-content q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
		"az acr build -r crorderflowabc -t orderflow/frontend:t1 -f frontend/Dockerfile --platform linux/amd64 " +
			"--build-arg BUILDPLATFORM=linux/amd64 --build-arg TARGETOS=linux --build-arg TARGETARCH=amd64",
		"az acr build -r crorderflowabc -t orderflow/backend:t1 -f backend/Dockerfile --platform linux/amd64 " +
			"--build-arg BUILDPLATFORM=linux/amd64 --build-arg TARGETOS=linux --build-arg TARGETARCH=amd64",
		"kubelogin convert-kubeconfig -l azurecli",
		"kubectl apply -k deploy/overlays/aks",
		"kubectl -n orderflow rollout status deployment/frontend",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("deploy.sh never ran %q; calls:\n%s", want, calls)
		}
	}
	if strings.Contains(calls, "--value") {
		t.Errorf("the secret value went on a command line")
	}
	// The rendered aks.env has exactly the example's keys, and the overlay builds with it.
	rendered := readEnvFile(t, filepath.Join(work, "applied-aks.env"))
	example := readEnvFile(t, filepath.Join(root, "deploy/overlays/aks/aks.env.example"))
	if !slices.Equal(sortedKeys(rendered), sortedKeys(example)) {
		t.Errorf("aks.env keys %v, aks.env.example keys %v", sortedKeys(rendered), sortedKeys(example))
	}
	if rendered["FRONTEND_IMAGE"] != "crorderflowabc.azurecr.io/orderflow/frontend:t1" || rendered["SCALER_CLIENT_ID"] != "33333333-3333-3333-3333-333333333333" ||
		rendered["SERVICEBUS_NAMESPACE_NAME"] != "sb-orderflow-abc" || rendered["SERVICEBUS_NAMESPACE"] != "sb-orderflow-abc.servicebus.windows.net" {
		t.Errorf("aks.env values not mapped from the right outputs: %v", rendered)
	}

	// The overlay builds with what deploy.sh rendered, every placeholder replaced.
	renderedBytes, _ := os.ReadFile(filepath.Join(work, "applied-aks.env"))
	tree := t.TempDir()
	if err := copyDeployTree(root, tree, renderedBytes); err != nil {
		t.Fatal(err)
	}
	objs, err := renderDir(filepath.Join(tree, "overlays", "aks"))
	if err != nil {
		t.Fatalf("the overlay does not build with deploy.sh's aks.env: %v", err)
	}
	for _, o := range objs {
		if strings.Contains(string(o.JSON), "SET-BY-OVERLAY") {
			t.Errorf("%s keeps a placeholder with deploy.sh's aks.env", o)
		}
	}
	if d, ok := find(objs, "Deployment", "backend"); !ok || !strings.Contains(string(d.JSON), `"image":"crorderflowabc.azurecr.io/orderflow/backend:t1"`) {
		t.Errorf("backend image not from deploy.sh's build")
	}

	// Idempotent: with the secret present, it is left alone.
	if calls := run("1"); strings.Contains(calls, "keyvault secret set") || strings.Contains(calls, "openssl rand") {
		t.Errorf("re-running deploy.sh rotated an existing secret:\n%s", calls)
	}

	// The deployer's object ID, for each kind of login. A service principal without
	// Microsoft Graph read, and a managed identity (`az login --identity`, whose
	// user.name is not an app id), both fail `az ad sp show`; the token's oid works.
	const oid = "44444444-4444-4444-4444-444444444444"
	token := fakeJWT(`{"aud":"https://management.azure.com/","oid":"` + oid + `","tid":"t"}`)
	for _, c := range []struct{ name, accountType, accountName string }{
		{"service principal without Graph read", "servicePrincipal", "0f0f0f0f-0000-0000-0000-000000000000"},
		{"managed identity", "servicePrincipal", "systemAssignedIdentity"},
		{"user", "user", "someone@example.com"},
	} {
		calls := runWith([]string{"FAKE_ACCOUNT_TYPE=" + c.accountType, "FAKE_ACCOUNT_NAME=" + c.accountName, "FAKE_TOKEN=" + token, "FAKE_GRAPH=refused"})
		want := "deployer-env " + oid + " ServicePrincipal"
		if c.accountType == "user" {
			want = "deployer-env " + oid + " User"
		}
		if !strings.Contains(calls, want) {
			t.Errorf("%s: the deployment did not get %q:\n%s", c.name, want, calls)
		}
	}
	// Given on the command line, nothing is looked up.
	calls = runWith([]string{"FAKE_GRAPH=refused"}, "--deployer-object-id", oid, "--deployer-type", "ServicePrincipal")
	if !strings.Contains(calls, "deployer-env "+oid+" ServicePrincipal") || strings.Contains(calls, "get-access-token") {
		t.Errorf("--deployer-object-id was not used as given:\n%s", calls)
	}
	// Nothing works: a clear stop before anything is created, naming the flag.
	calls, out, err := try([]string{"FAKE_ACCOUNT_TYPE=servicePrincipal", "FAKE_TOKEN=", "FAKE_GRAPH=refused"})
	if err == nil || !strings.Contains(out, "--deployer-object-id") || strings.Contains(calls, "group create") {
		t.Errorf("an unresolvable deployer must stop with the flag to pass, before creating anything: %v\n%s", err, out)
	}
	if _, out, err := try(nil, "--deployer-object-id", "not-a-guid"); err == nil || !strings.Contains(out, "not an object ID") {
		t.Errorf("a malformed --deployer-object-id must be refused: %v\n%s", err, out)
	}

	// ACR Tasks refused (free and trial subscriptions): a local buildx push, said so.
	calls, out, err = try([]string{"FAKE_ACR_TASKS=refused"})
	if err != nil {
		t.Fatalf("deploy.sh with ACR Tasks refused: %v\n%s", err, out)
	}
	for _, want := range []string{
		"az acr login -n crorderflowabc",
		"docker buildx build --platform linux/amd64 -f frontend/Dockerfile -t crorderflowabc.azurecr.io/orderflow/frontend:t1 --push .",
		"docker buildx build --platform linux/amd64 -f backend/Dockerfile -t crorderflowabc.azurecr.io/orderflow/backend:t1 --push .",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("with ACR Tasks refused, deploy.sh never ran %q:\n%s", want, calls)
		}
	}
	if !strings.Contains(out, "TasksOperationsNotAllowed") || !strings.Contains(out, "docker buildx") {
		t.Errorf("deploy.sh did not say which build path it took:\n%s", out)
	}
	// Any other ACR failure is not papered over.
	if _, out, err := try([]string{"FAKE_ACR_TASKS=refused"}, "--build", "acr"); err == nil || !strings.Contains(out, "--build local") {
		t.Errorf("--build acr must fail on a refused ACR build and name the alternative: %v\n%s", err, out)
	}
}

// fakeJWT is an unsigned token with the given claims: deploy.sh only reads claims.
func fakeJWT(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".sig"
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every output deploy.sh reads is declared in main.bicep.
func TestDeployScriptReadsDeclaredOutputs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "deploy.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)outputs=\((.*?)\)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("deploy.sh: no outputs=(...) list")
	}
	main := stripComments(bicepFiles(t)["main.bicep"])
	for _, o := range strings.Fields(m[1]) {
		if !regexp.MustCompile(`(?m)^output ` + o + ` `).MatchString(main) {
			t.Errorf("deploy.sh reads output %s, which main.bicep does not declare", o)
		}
	}
}

func TestDestroyScriptAsksFirst(t *testing.T) {
	// A copy: destroy.sh removes deploy/overlays/aks/aks.env next to itself.
	work := copyFiles(t, "scripts/destroy.sh", "scripts/lib/common.sh")
	os.MkdirAll(filepath.Join(work, "deploy/overlays/aks"), 0o755)
	aksEnv := filepath.Join(work, "deploy/overlays/aks/aks.env")
	os.WriteFile(aksEnv, []byte("X=1\n"), 0o644)
	bin := filepath.Join(work, "fakebin")
	os.MkdirAll(bin, 0o755)
	logf := filepath.Join(bin, "calls.log")
	os.WriteFile(filepath.Join(bin, "az"), []byte(`#!/usr/bin/env bash
echo "az $*" >>"$FAKE_LOG"
case "$*" in
  "account show"*) printf 'sub\t0000\n' ;;
  "group exists"*) echo true ;;
esac
`), 0o755)
	run := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{filepath.Join(work, "scripts/destroy.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+logf)
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// No terminal and no --yes: refuse.
	if out, err := run("-g", "rg-test"); err == nil || !strings.Contains(out, "--yes") {
		t.Fatalf("destroy.sh without --yes and without a terminal must refuse: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(logf)
	if strings.Contains(string(calls), "group delete") {
		t.Fatal("deleted without confirmation")
	}
	if out, err := run("-g", "rg-test", "--yes", "--no-wait"); err != nil {
		t.Fatalf("destroy.sh --yes: %v\n%s", err, out)
	}
	calls, _ = os.ReadFile(logf)
	if !strings.Contains(string(calls), "az group delete -n rg-test --yes --no-wait") {
		t.Fatalf("destroy.sh --yes did not delete the group:\n%s", calls)
	}
	if _, err := os.Stat(aksEnv); err == nil {
		t.Errorf("destroy.sh left the rendered aks.env behind")
	}
}

// copyFiles copies repository files into a fresh directory, keeping their paths.
func copyFiles(t *testing.T, files ...string) string {
	t.Helper()
	work := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(work, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(work, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return work
}

// `make run` installs only what running needs: on a Mac there is no apt-get, and
// Chromium and shellcheck are test tools. With every system tool faked to log its
// call, scripts/install-run-deps.sh must call npm and nothing else, and without npm
// stop with a hint for the platform.
func TestRunDepsNeverUseASystemPackageManager(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	runLocal, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "run-local.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(runLocal), "./scripts/install-run-deps.sh") || strings.Contains(string(runLocal), "install-test-deps") {
		t.Fatal("scripts/run-local.sh must install with install-run-deps.sh only, not the test dependencies")
	}
	work := copyFiles(t, "scripts/install-run-deps.sh", "localazure/azurite/package-lock.json")
	bin := filepath.Join(work, "fakebin")
	os.MkdirAll(bin, 0o755)
	logf := filepath.Join(work, "calls.log")
	for _, name := range []string{"apt-get", "sudo", "brew", "chromium", "shellcheck"} {
		os.WriteFile(filepath.Join(bin, name), []byte("#!/usr/bin/env bash\necho \""+name+" $*\" >>\"$FAKE_LOG\"\n"), 0o755)
	}
	sys := filepath.Join(work, "sysbin")
	os.MkdirAll(sys, 0o755)
	for _, tool := range []string{"bash", "env", "dirname", "uname", "mkdir"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s", tool)
		}
		if err := os.Symlink(p, filepath.Join(sys, tool)); err != nil {
			t.Fatal(err)
		}
	}
	// A fake npm that "installs" as npm ci does: node_modules/.package-lock.json last.
	npm := "#!/usr/bin/env bash\necho \"npm $*\" >>\"$FAKE_LOG\"\nmkdir -p node_modules && : >node_modules/.package-lock.json\n"
	run := func(withNPM bool) (string, string, error) {
		os.Remove(logf)
		os.RemoveAll(filepath.Join(work, "localazure/azurite/node_modules"))
		os.Remove(filepath.Join(bin, "npm"))
		if withNPM {
			os.WriteFile(filepath.Join(bin, "npm"), []byte(npm), 0o755)
		}
		cmd := exec.Command("bash", filepath.Join(work, "scripts/install-run-deps.sh"))
		// Only the fakes and the few basic tools the script uses: no real npm.
		cmd.Env = []string{"PATH=" + bin + ":" + sys, "FAKE_LOG=" + logf, "HOME=" + work}
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(logf)
		return string(calls), string(out), err
	}
	calls, out, err := run(true)
	if err != nil {
		t.Fatalf("install-run-deps.sh: %v\n%s", err, out)
	}
	if !strings.Contains(calls, "npm ci") {
		t.Errorf("Azurite was not installed with npm ci:\n%s", calls)
	}
	for _, tool := range []string{"apt-get", "sudo", "brew", "chromium", "shellcheck"} {
		if strings.Contains(calls, tool+" ") {
			t.Errorf("the run path called %s:\n%s", tool, calls)
		}
	}
	calls, out, err = run(false)
	if err == nil || !strings.Contains(out, "Node.js 20+") || !strings.Contains(out, "--blob=false") || strings.Contains(calls, "apt-get") {
		t.Errorf("without npm: want a clear stop with the install hint and the --blob=false way out, and no apt-get: %v\n%s\n%s", err, out, calls)
	}
}

// run-local.sh prints no URL of its own: it would come before the build, and at a
// port the services may not listen on. The launcher prints "ready — open <url>"
// once the frontend listens (localazure/cmd/localazure TestUpWithPortOffset).
func TestRunLocalPrintsNoURLBeforeTheAppListens(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "run-local.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "http://") {
		t.Error("run-local.sh must leave the app's URL to the launcher, which prints it once the frontend listens")
	}
}

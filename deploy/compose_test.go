package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/contoso/orderflow/platform/config"
)

func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yaml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{}), // no developer overrides: test the defaults
		cli.WithProfiles(profiles),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go cannot load docker-compose.yaml: %v", err)
	}
	return p
}

func serviceNames(p *types.Project) []string {
	var out []string
	for n := range p.Services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func envOf(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// Emulators' published well-known keys (not secrets): the compose file must use these.
const (
	cosmosEmulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
	azuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

func TestComposeEmulatorStack(t *testing.T) {
	p := loadCompose(t)
	want := []string{"azurite", "backend", "cosmos", "emulator-seed", "emulators-ready", "frontend", "lowkey-vault", "servicebus", "sqlserver"}
	if got := serviceNames(p); !slices.Equal(got, want) {
		t.Fatalf("default services %v, want %v (the localazure ones only under their profile)", got, want)
	}
	checkDependencies(t, p)

	images := map[string]string{
		"azurite": "mcr.microsoft.com/azure-storage/azurite:", "cosmos": "mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:vnext",
		"servicebus": "mcr.microsoft.com/azure-messaging/servicebus-emulator:", "sqlserver": "mcr.microsoft.com/mssql/server:",
		"lowkey-vault": "nagyesta/lowkey-vault:",
	}
	for svc, prefix := range images {
		if !strings.HasPrefix(p.Services[svc].Image, prefix) {
			t.Errorf("%s image %q, want the official %s*", svc, p.Services[svc].Image, prefix)
		}
	}
	sb := p.Services["servicebus"]
	var mounted bool
	for _, v := range sb.Volumes {
		if v.Target == "/ServiceBus_Emulator/ConfigFiles/Config.json" && v.Source == filepath.Join(repoRoot(t), "localazure.json") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("servicebus must mount localazure.json at /ServiceBus_Emulator/ConfigFiles/Config.json: %+v", sb.Volumes)
	}
	for _, svc := range []string{"servicebus", "sqlserver"} {
		if envOf(p.Services[svc])["ACCEPT_EULA"] != "Y" {
			t.Errorf("%s: ACCEPT_EULA must be Y", svc)
		}
	}
	if envOf(sb)["MSSQL_SA_PASSWORD"] != envOf(p.Services["sqlserver"])["MSSQL_SA_PASSWORD"] {
		t.Errorf("servicebus and sqlserver disagree on MSSQL_SA_PASSWORD")
	}

	seed := p.Services["emulator-seed"]
	if ep := []string(seed.Entrypoint); len(ep) == 0 || ep[0] != "/emuseed" || volumeTarget(seed, filepath.Join(repoRoot(t), "localazure.json")) == "" {
		t.Errorf("emulator-seed must run /emuseed on the mounted localazure.json: %v %+v", ep, seed.Volumes)
	}
	for _, name := range []string{"frontend", "backend"} {
		s := p.Services[name]
		checkAppService(t, s, name)
		if d, ok := s.DependsOn["emulator-seed"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s must wait for emulator-seed to complete", name)
		}
		env := envOf(s)
		if env["COSMOS_KEY"] != cosmosEmulatorKey || !strings.Contains(env["STORAGE_CONNECTION_STRING"], "AccountKey="+azuriteAccountKey) ||
			!strings.Contains(env["SERVICEBUS_CONNECTION_STRING"], "UseDevelopmentEmulator=true") ||
			!strings.Contains(env["SERVICEBUS_CONNECTION_STRING"], "SharedAccessKey=SAS_KEY_VALUE") || env["KEYVAULT_AUTH"] != "emulator" {
			t.Errorf("%s: emulator overrides missing or not the emulators' published keys: %v", name, env)
		}
		if name == "frontend" {
			// The backend identity panel: the backend service's health port, which its
			// healthcheck probes.
			if u := env["BACKEND_HEALTH_URL"]; u != "http://backend:8090" || !strings.Contains(strings.Join(p.Services["backend"].HealthCheck.Test, " "), ":8090/") {
				t.Errorf("frontend: BACKEND_HEALTH_URL %q, want http://backend:8090, the backend's health port", u)
			}
		}
		// The services' own loader must accept the emulator configuration as is.
		if _, err := config.Load(func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: config.Load rejects the compose environment: %v", name, err)
		}
	}
}

func TestComposeLocalAzureProfile(t *testing.T) {
	p := loadCompose(t, "localazure")
	for _, n := range []string{"localazure", "frontend-localazure", "backend-localazure"} {
		if _, ok := p.Services[n]; !ok {
			t.Fatalf("profile localazure lacks %s: %v", n, serviceNames(p))
		}
	}
	checkDependencies(t, p)
	la := p.Services["localazure"]
	if la.Build == nil || la.Build.Dockerfile != "localazure/Dockerfile" {
		t.Errorf("localazure must be built from localazure/Dockerfile: %+v", la.Build)
	}
	state := volumeAt(la, "/repo/.localazure")
	if state == "" {
		t.Fatalf("localazure must keep its state on a named volume at /repo/.localazure")
	}
	for _, name := range []string{"frontend", "backend"} {
		s := p.Services[name+"-localazure"]
		checkAppService(t, s, name)
		if s.NetworkMode != "service:localazure" {
			t.Errorf("%s-localazure: network_mode %q; the stand-ins listen on localazure's loopback", name, s.NetworkMode)
		}
		if volumeAt(s, "/repo/.localazure") != state {
			t.Errorf("%s-localazure: must mount localazure's state volume %q at the same path", name, state)
		}
		envFile := "/repo/.localazure/" + name + ".env"
		ep := []string(s.Entrypoint)
		if len(ep) < 4 || ep[0] != "/envexec" || !slices.Contains(ep, envFile) || ep[len(ep)-1] != "/"+name {
			t.Errorf("%s-localazure: entrypoint %q must load %s through /envexec, then exec /%s", name, ep, envFile, name)
		}
		// The point of the profile: the real workload identity flow, no emulator credentials.
		env := envOf(s)
		for _, k := range []string{"COSMOS_KEY", "STORAGE_CONNECTION_STRING", "SERVICEBUS_CONNECTION_STRING", "KEYVAULT_AUTH", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"} {
			if _, ok := env[k]; ok {
				t.Errorf("%s-localazure sets %s; it must come from localazure's env file (workload identity)", name, k)
			}
		}
		// No SQL Server, nothing amd64-only, in this profile's dependency closure.
		for dep := range s.DependsOn {
			if dep == "sqlserver" || dep == "servicebus" {
				t.Errorf("%s-localazure depends on %s", name, dep)
			}
		}
	}
	if !strings.Contains(strings.Join(la.HealthCheck.Test, " "), "/repo/.localazure/frontend.env") {
		t.Errorf("localazure's healthcheck must wait for the env files the services load: %v", la.HealthCheck.Test)
	}
}

func volumeTarget(s types.ServiceConfig, source string) string {
	for _, v := range s.Volumes {
		if v.Source == source {
			return v.Target
		}
	}
	return ""
}

func volumeAt(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == types.VolumeTypeVolume {
			return v.Source
		}
	}
	return ""
}

// checkDependencies: every service_healthy dependency has a real healthcheck, and a
// service_completed_successfully one is a one-shot job.
func checkDependencies(t *testing.T, p *types.Project) {
	t.Helper()
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not enabled", name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				hc := target.HealthCheck
				if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
				if hc != nil && (hc.Interval == nil || hc.Retries == nil || time.Duration(*hc.Interval)*time.Duration(*hc.Retries) < 30*time.Second) {
					t.Errorf("%s's healthcheck gives up in under 30 s", dep)
				}
			case types.ServiceConditionStarted:
				// Only a readiness gate may start on a mere "started": it then probes
				// the service from outside until it answers.
				if !awaits(s, dep) {
					t.Errorf("%s depends on %s being started only; only an `envexec -await` gate that probes %s may", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if len(target.Ports) > 0 || target.HealthCheck != nil {
					t.Errorf("%s waits for %s to complete, but %s looks like a long-running service", name, dep, dep)
				}
			default:
				t.Errorf("%s depends on %s with condition %q; use service_healthy", name, dep, d.Condition)
			}
		}
	}
	for _, n := range []string{"frontend", "backend", "frontend-localazure", "backend-localazure"} {
		if s, ok := p.Services[n]; ok && len(s.DependsOn) == 0 {
			t.Errorf("%s starts without waiting for anything", n)
		}
	}
}

// checkAppService: built from the service's Dockerfile (compose stage), hardened like
// the pod, names from docs/names.md, a healthcheck on its /readyz.
func checkAppService(t *testing.T, s types.ServiceConfig, name string) {
	t.Helper()
	if s.Build == nil || s.Build.Dockerfile != name+"/Dockerfile" || s.Build.Target != "compose" {
		t.Errorf("%s: build %+v, want %s/Dockerfile target compose", s.Name, s.Build, name)
	} else if df, err := os.ReadFile(filepath.Join(repoRoot(t), name, "Dockerfile")); err != nil || !strings.Contains(string(df), " AS compose") {
		t.Errorf("%s: %s/Dockerfile has no compose stage", s.Name, name)
	}
	if !s.ReadOnly || s.User != "65532:65532" || !slices.Contains(s.CapDrop, "ALL") {
		t.Errorf("%s: want read_only, user 65532:65532, cap_drop ALL", s.Name)
	}
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) < 30*time.Second {
		t.Errorf("%s: stop_grace_period must cover the 30 s shutdown deadline", s.Name)
	}
	port := map[string]string{"frontend": "8080", "backend": "8090"}[name]
	if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), ":"+port+"/readyz") {
		t.Errorf("%s: healthcheck must probe /readyz on %s", s.Name, port)
	}
	names := namesDoc(t)
	env := envOf(s)
	for k, v := range map[string]string{
		"COSMOS_DATABASE": names.CosmosDatabase, "COSMOS_CONTAINER": names.CosmosContainer,
		"ATTACHMENTS_CONTAINER": names.Attachments, "RECEIPTS_CONTAINER": names.Receipts,
		"ORDERS_QUEUE": names.Queue, "EVENTS_TOPIC": names.Topic, "EVENTS_SUBSCRIPTION": names.Subscription,
		"RECEIPT_KEY_SECRET": names.Secret,
	} {
		if env[k] != v {
			t.Errorf("%s: %s=%q, docs/names.md says %q", s.Name, k, env[k], v)
		}
	}
}

// awaits: s is a one-shot `envexec -await` gate with a target on host dep.
func awaits(s types.ServiceConfig, dep string) bool {
	ep := []string(s.Entrypoint)
	if len(ep) < 4 || ep[0] != "/envexec" || ep[1] != "-await" {
		return false
	}
	for _, target := range ep[3:] {
		if strings.Contains(target, "://"+dep+":") {
			return true
		}
	}
	return false
}

// imageTools says, per image, whether it has a shell and which executables a
// healthcheck may run in it. A healthcheck runs inside the container, so one that
// names a missing program never passes and everything waiting on it never starts.
// Images not listed here may not carry a healthcheck at all: what they ship is not
// documented, so readiness is probed from outside (emulators-ready).
var imageTools = map[string]struct {
	shell bool
	execs []string
	why   string
}{
	"mcr.microsoft.com/mssql/server:": {true, []string{"/opt/mssql-tools18/bin/sqlcmd"},
		"https://learn.microsoft.com/sql/linux/quickstart-install-connect-docker (bash, sqlcmd in /opt/mssql-tools18)"},
	"mcr.microsoft.com/azure-messaging/servicebus-emulator:": {false, nil,
		"no sh, bash, curl or wget: https://github.com/Azure/azure-service-bus-emulator-installer/issues/88"},
	"mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:": {false, nil,
		"no curl or wget, and no documented shell: https://github.com/Azure/azure-cosmos-db-emulator-docker/issues/103"},
}

func TestComposeHealthchecksCanRun(t *testing.T) {
	for _, profiles := range [][]string{nil, {"localazure"}} {
		p := loadCompose(t, profiles...)
		for name, s := range p.Services {
			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
				continue
			}
			shell, execs, why := imageContents(t, s)
			switch hc.Test[0] {
			case "CMD-SHELL":
				if !shell {
					t.Errorf("%s: healthcheck %q needs a shell, which its image has not (%s)", name, hc.Test, why)
				}
			case "CMD":
				if len(hc.Test) < 2 || !slices.Contains(execs, hc.Test[1]) {
					t.Errorf("%s: healthcheck %q runs a program its image does not ship (%s; it has %v)", name, hc.Test, why, execs)
				}
			default:
				t.Errorf("%s: healthcheck test %q: want CMD or CMD-SHELL", name, hc.Test)
			}
		}
	}
}

// imageContents: for the project's own images, the files their Dockerfile copies into
// the built stage (distroless: no shell); for others, imageTools.
func imageContents(t *testing.T, s types.ServiceConfig) (shell bool, execs []string, why string) {
	t.Helper()
	if s.Build != nil {
		df, err := os.ReadFile(filepath.Join(repoRoot(t), s.Build.Dockerfile))
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		stage := string(df)
		if s.Build.Target != "" {
			i := strings.Index(stage, " AS "+s.Build.Target)
			if i < 0 {
				t.Fatalf("%s: %s has no stage %s", s.Name, s.Build.Dockerfile, s.Build.Target)
			}
			stage = stage[i:]
		} else if i := strings.LastIndex(stage, "\nFROM "); i >= 0 {
			stage = stage[i:]
		}
		if j := strings.Index(stage[1:], "\nFROM "); j >= 0 {
			stage = stage[:j+1]
		}
		for _, line := range strings.Split(stage, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "COPY" {
				execs = append(execs, f[len(f)-1])
			}
		}
		return strings.Contains(stage, "/bin/sh"), execs, s.Build.Dockerfile + " (distroless: no shell)"
	}
	for prefix, c := range imageTools {
		if strings.HasPrefix(s.Image, prefix) {
			return c.shell, c.execs, c.why
		}
	}
	t.Errorf("%s: image %s has a healthcheck but is not in imageTools: probe it from outside (emulators-ready) or document what it ships", s.Name, s.Image)
	return false, nil, "undocumented image"
}

// Every image is pinned to a version: a floating tag changes under the user. The
// Cosmos DB vNext emulator is the one exception (see its comment in the compose file).
func TestComposeImagesArePinned(t *testing.T) {
	floating := regexp.MustCompile(`:(latest|[0-9]+-latest|vnext-preview)$|^[^:]+$`)
	for _, profiles := range [][]string{nil, {"localazure"}} {
		for name, s := range loadCompose(t, profiles...).Services {
			if s.Image == "" || !floating.MatchString(s.Image) {
				continue
			}
			if s.Image == "mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:vnext-preview" {
				continue
			}
			t.Errorf("%s: image %s is not pinned to a version", name, s.Image)
		}
	}
}

package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// offlineRegistry answers BuildKit's image-config lookups without a network: for every
// base image it returns a config for exactly the platform asked for, as a registry does
// for a multi-platform image (golang, distroless/static and node all publish linux/amd64
// and linux/arm64). Only the registry is stood in for; the conversion is BuildKit's.
type offlineRegistry struct{}

func (offlineRegistry) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := opt.ImageOpt.Platform
	cfg, err := json.Marshal(map[string]any{
		"os": p.OS, "architecture": p.Architecture,
		"config": map[string]any{"Env": []string{"PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref + p.Architecture).String()}},
	})
	return ref, "", cfg, err
}

// goBuildStep is one `go build` exec op of the LLB that BuildKit would run.
type goBuildStep struct {
	env      map[string]string
	platform string // where the step runs, os/arch
}

// convertDockerfile runs BuildKit's own Dockerfile frontend (dockerfile2llb: what
// buildkitd runs for `docker buildx build`; the Dockerfiles' `# syntax=docker/dockerfile:1`
// selects the current release of this same frontend) for target platform target on an
// amd64 build machine, and returns the image config's platform and every `go build` step.
func convertDockerfile(t *testing.T, dockerfile, stage, target string) (image string, steps []goBuildStep) {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(repoRoot(t), dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := platforms.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{
			Target:         stage,
			BuildPlatforms: []ocispecs.Platform{{OS: "linux", Architecture: "amd64"}},
		},
		TargetPlatform: &tp,
		MetaResolver:   offlineRegistry{},
	})
	if err != nil {
		t.Fatalf("%s: BuildKit's Dockerfile frontend: %v", dockerfile, err)
	}
	def, err := res.State.Marshal(ctx, llb.Platform(tp))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(b); err != nil {
			t.Fatal(err)
		}
		exec := op.GetExec()
		if exec == nil || !strings.Contains(strings.Join(exec.GetMeta().GetArgs(), " "), "go build") {
			continue
		}
		env := map[string]string{}
		for _, kv := range exec.GetMeta().GetEnv() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		// BuildKit puts the ARGs in scope into the step's environment, so a RUN that
		// sets GOOS=$TARGETOS GOARCH=$TARGETARCH itself gets the values BuildKit chose.
		cmd := strings.Join(exec.GetMeta().GetArgs(), " ")
		for goVar, arg := range map[string]string{"GOOS": "TARGETOS", "GOARCH": "TARGETARCH"} {
			if strings.Contains(cmd, goVar+"=$"+arg) {
				env[goVar] = env[arg]
			}
		}
		steps = append(steps, goBuildStep{env: env, platform: op.GetPlatform().GetOS() + "/" + op.GetPlatform().GetArchitecture()})
	}
	return res.Image.OS + "/" + res.Image.Architecture, steps
}

// TestImagesCrossCompileForEachPlatform: for --platform linux/amd64 and linux/arm64,
// every image's Go build runs natively on the build machine with GOOS/GOARCH of the
// target, and the image is labelled with the target platform. A default on TARGETARCH
// (ARG TARGETARCH=amd64) made BuildKit ship amd64 binaries in the arm64 image.
func TestImagesCrossCompileForEachPlatform(t *testing.T) {
	builds := []struct{ dockerfile, stage string }{
		{"frontend/Dockerfile", ""}, {"frontend/Dockerfile", "compose"},
		{"backend/Dockerfile", ""}, {"backend/Dockerfile", "compose"},
		{"localazure/Dockerfile", ""},
	}
	for _, b := range builds {
		for _, target := range []string{"linux/amd64", "linux/arm64"} {
			image, steps := convertDockerfile(t, b.dockerfile, b.stage, target)
			name := b.dockerfile + " " + b.stage + " " + target
			if image != target {
				t.Errorf("%s: image config platform %s", name, image)
			}
			if len(steps) == 0 {
				t.Errorf("%s: no `go build` step in the LLB", name)
			}
			for _, s := range steps {
				if got := s.env["GOOS"] + "/" + s.env["GOARCH"]; got != target {
					t.Errorf("%s: go build with GOOS/GOARCH %s", name, got)
				}
				if s.platform != "linux/amd64" {
					t.Errorf("%s: go build runs on %s, not natively on the build machine", name, s.platform)
				}
			}
		}
	}
}

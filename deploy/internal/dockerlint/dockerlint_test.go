package dockerlint

import (
	"strings"
	"testing"
)

const good = `# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
ARG TARGETARCH
ENV CGO_ENABLED=0 GOARCH=$TARGETARCH
COPY . .
RUN GOOS=linux go build -trimpath \
    -ldflags="-s -w" -o /out/app ./app
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app"]
`

func TestGoodDockerfilePasses(t *testing.T) {
	if p := Check(good, Rules{DistrolessFinal: true, GoStatic: true}); len(p) != 0 {
		t.Fatalf("unexpected problems: %q", p)
	}
	_, stages, err := Parse(good)
	if err != nil || len(stages) != 2 || stages[0].Name != "build" || stages[0].Platform != "$BUILDPLATFORM" {
		t.Fatalf("parse: %v %+v", err, stages)
	}
	if got := stages[0].Instructions[3].Args; !strings.Contains(got, "-ldflags=\"-s -w\"") {
		t.Fatalf("continuation not joined: %q", got)
	}
}

func TestEachRuleFires(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"single stage", "FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build\n", "", "single-stage"},
		{"latest", "golang:1.26.8", "golang:latest", "pin a tag"},
		{"untagged", "golang:1.26.8", "golang", "pin a tag"},
		{"remote ADD", "COPY . .", "ADD https://example.com/x.tgz /x", "ADD of a remote source"},
		{"root user", "USER 65532:65532", "USER root", "numeric non-root"},
		{"no user", "USER 65532:65532\n", "", "numeric non-root"},
		{"not distroless", "gcr.io/distroless/static-debian12:nonroot", "alpine:3.20", "want gcr.io/distroless"},
		{"distroless root", "static-debian12:nonroot", "static-debian12:latest", "want gcr.io/distroless"},
		{"shell entrypoint", `ENTRYPOINT ["/app"]`, "ENTRYPOINT /app", "exec (JSON) form"},
		{"RUN in final", "USER 65532:65532", "RUN true\nUSER 65532:65532", "no shell"},
		{"cgo", "CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
		{"no trimpath", "-trimpath", "", "-trimpath"},
		{"no EXPOSE", "EXPOSE 8080\n", "", "no EXPOSE"},
		{"TARGETARCH default", "ARG TARGETARCH\n", "ARG TARGETARCH=amd64\n", "a default overrides them"},
		{"BUILDPLATFORM default", "FROM --platform", "ARG BUILDPLATFORM=linux/amd64\nFROM --platform", "a default overrides them"},
		{"no GOARCH", " GOARCH=$TARGETARCH", "", "GOARCH=$TARGETARCH"},
	}
	for _, c := range cases {
		src := good
		if c.name == "single stage" {
			src = strings.Replace(strings.Replace(good, c.from, "", 1), "COPY --from=build /out/app /app\n", "", 1)
		} else {
			src = strings.Replace(good, c.from, c.to, 1)
		}
		p := Check(src, Rules{DistrolessFinal: true, GoStatic: true})
		if !strings.Contains(strings.Join(p, "\n"), c.want) {
			t.Errorf("%s: want a problem containing %q, got %q", c.name, c.want, p)
		}
	}
}

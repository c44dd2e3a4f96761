// Package dockerlint is a small Dockerfile checker for the rules this project's images
// promise: multi-stage, a distroless nonroot final image, a numeric non-root USER, no
// ADD of remote URLs, pinned base tags, exec-form ENTRYPOINT, a static Go build and no
// defaults on the platform ARGs.
// It parses just enough of the Dockerfile syntax (continuations, comments, stages).
package dockerlint

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction with its line number.
type Instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

// Stage is a FROM and the instructions up to the next FROM.
type Stage struct {
	Image, Name, Platform string
	Instructions          []Instruction
}

// Parse splits a Dockerfile into stages. Instructions before the first FROM (ARG)
// are returned as the global ones.
func Parse(src string) (global []Instruction, stages []Stage, err error) {
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			line = strings.TrimSuffix(line, "\\") + " " + next
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := Instruction{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" {
			st, err := parseFrom(in)
			if err != nil {
				return nil, nil, err
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			global = append(global, in)
			continue
		}
		stages[len(stages)-1].Instructions = append(stages[len(stages)-1].Instructions, in)
	}
	if len(stages) == 0 {
		return nil, nil, fmt.Errorf("no FROM instruction")
	}
	return global, stages, nil
}

func parseFrom(in Instruction) (Stage, error) {
	var st Stage
	f := strings.Fields(in.Args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		if v, ok := strings.CutPrefix(f[0], "--platform="); ok {
			st.Platform = v
		}
		f = f[1:]
	}
	switch {
	case len(f) == 1:
		st.Image = f[0]
	case len(f) == 3 && strings.EqualFold(f[1], "AS"):
		st.Image, st.Name = f[0], f[2]
	default:
		return st, fmt.Errorf("line %d: cannot parse FROM %s", in.Line, in.Args)
	}
	return st, nil
}

// Rules selects what Check enforces beyond the common rules.
type Rules struct {
	// DistrolessFinal: the final stage is gcr.io/distroless/*:nonroot, has no RUN,
	// an exec-form ENTRYPOINT and an EXPOSE.
	DistrolessFinal bool
	// GoStatic: some stage runs `go build` with CGO_ENABLED=0, -trimpath and -ldflags="-s -w".
	GoStatic bool
}

var (
	pinnedTag   = regexp.MustCompile(`^[^@]+:[\w][\w.-]*$|@sha256:[0-9a-f]{64}$`)
	numericUser = regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`)
	// An automatic platform ARG given a default: BuildKit then uses the default for
	// every --platform (docs.docker.com/build/building/variables/#multi-platform-build-arguments).
	platformArgDefault = regexp.MustCompile(`^(BUILD|TARGET)(PLATFORM|OS|ARCH|VARIANT)=`)
)

// Check returns every rule the Dockerfile breaks; nil means it passes.
func Check(src string, r Rules) []string {
	global, stages, err := Parse(src)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }

	if len(stages) < 2 {
		add("single-stage build: compile in a builder stage and copy the binary into a minimal image")
	}
	names := map[string]bool{}
	for _, st := range stages {
		if names[strings.ToLower(st.Image)] {
			names[strings.ToLower(st.Name)] = true
			continue // FROM an earlier stage
		}
		if !pinnedTag.MatchString(st.Image) || strings.HasSuffix(st.Image, ":latest") {
			add("FROM %s: pin a tag (not latest) or a digest", st.Image)
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
	}
	for _, st := range append([]Stage{{Instructions: global}}, stages...) {
		for _, in := range st.Instructions {
			if in.Cmd == "ADD" && regexp.MustCompile(`(?i)(https?://|git@|\.git\b)`).MatchString(in.Args) {
				add("line %d: ADD of a remote source; download in a RUN with a checksum, or COPY", in.Line)
			}
			if in.Cmd == "ARG" && platformArgDefault.MatchString(in.Args) {
				add("line %d: ARG %s: BuildKit sets the platform ARGs from --platform; a default overrides them", in.Line, in.Args)
			}
			if in.Cmd == "MAINTAINER" {
				add("line %d: MAINTAINER is deprecated", in.Line)
			}
		}
	}

	final := stages[len(stages)-1]
	user := ""
	var entrypoint, expose, run bool
	for _, in := range final.Instructions {
		switch in.Cmd {
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			var argv []string
			if json.Unmarshal([]byte(in.Args), &argv) == nil && len(argv) > 0 {
				entrypoint = true
			} else if r.DistrolessFinal {
				add("line %d: ENTRYPOINT must be in exec (JSON) form: there is no shell", in.Line)
			}
		case "EXPOSE":
			expose = true
		case "RUN":
			run = true
		}
	}
	if !numericUser.MatchString(user) {
		add("final stage: USER %q; use a numeric non-root uid:gid (65532:65532) so runAsNonRoot can verify it", user)
	}
	if r.DistrolessFinal {
		if !strings.HasPrefix(final.Image, "gcr.io/distroless/") || !strings.HasSuffix(final.Image, ":nonroot") {
			add("final stage FROM %s: want gcr.io/distroless/...:nonroot", final.Image)
		}
		if run {
			add("final stage runs RUN, but a distroless image has no shell")
		}
		if !entrypoint {
			add("final stage has no exec-form ENTRYPOINT")
		}
		if !expose {
			add("final stage has no EXPOSE")
		}
	}
	if r.GoStatic {
		var ok bool
		for _, st := range stages {
			env := ""
			for _, in := range st.Instructions {
				if in.Cmd == "ENV" || in.Cmd == "ARG" {
					env += " " + in.Args
				}
				if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
					all := env + " " + in.Args
					if strings.Contains(all, "CGO_ENABLED=0") && strings.Contains(in.Args, "-trimpath") &&
						regexp.MustCompile(`-ldflags=["']?-s -w`).MatchString(in.Args) &&
						strings.Contains(all, "GOARCH=$TARGETARCH") {
						ok = true
					}
				}
			}
		}
		if !ok {
			add("no `go build` with CGO_ENABLED=0, -trimpath, -ldflags=\"-s -w\" and GOARCH=$TARGETARCH (in the RUN or an ENV)")
		}
	}
	return problems
}

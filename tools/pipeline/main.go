// Command pipeline measures the whole order flow against its own I/O bound: each round
// it starts a fresh local stack (bin/localazure up, with a copy of localazure.json on
// free ports), then climbs an open-loop rate ladder twice on it, once through the app (POST
// /api/orders to bin/frontend, processed by bin/backend) and once through a raw loop
// that makes the app's exact SDK calls per order from two bare processes, and prints one
// table: each side's highest sustained rate, their ratio, end-to-end p50/p95, and the CPU
// per order of every process at the highest rate both sustained.
//
//	make bench-pipeline                       # builds bin/, then runs this
//	go run ./tools/pipeline -rounds 3         # three rounds, app and raw alternating
//	go run ./tools/pipeline -bare             # and a bare net/http service in front of the raw calls
//
// Completion is tracked from a subscription of the events topic that only this tool
// reads, so tracking costs the same one delivery per order for both sides and reads
// nothing of the system it measures. Latency runs from when an order was due, not when
// it was sent, so queueing in the load generator shows up as latency.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "raw-frontend" || os.Args[1] == "raw-backend") {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serveRaw(ctx, os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.repo, "repo", ".", "the repository root (localazure.json, localazure/azurite)")
	flag.StringVar(&o.bin, "bin", "bin", "folder with localazure, frontend and backend, as make build leaves them")
	flag.IntVar(&o.rounds, "rounds", 1, "rounds of app and raw ladders, alternating")
	flag.Float64Var(&o.ladder.start, "start", 60, "first rate of the ladder, orders/s")
	flag.Float64Var(&o.ladder.factor, "factor", 1.2, "rate multiplier between steps")
	flag.IntVar(&o.ladder.steps, "max-steps", 14, "most steps per ladder")
	flag.IntVar(&o.ladder.refine, "refine", 2, "steps that narrow the gap between the last sustained rate and the first that was not")
	flag.DurationVar(&o.ladder.step, "step", 6*time.Second, "length of each step")
	flag.DurationVar(&o.ladder.drain, "drain", 10*time.Second, "how long after a step's last order its orders may take to complete")
	flag.Func("frontend-env", "`KEY=VALUE` added to the app frontend's environment (repeatable), e.g. LOG_LEVEL=warn", appendTo(&o.feExtra))
	flag.Func("backend-env", "`KEY=VALUE` added to the app backend's environment (repeatable)", appendTo(&o.beExtra))
	flag.BoolVar(&o.traces, "traces", false, "let the app export traces to localazure's trace view, as make run does (default: the production default, no OTLP exporter)")
	flag.BoolVar(&o.keep, "keep", false, "keep the logs and the stack's state folder")
	flag.BoolVar(&o.bare, "bare", false, "also climb the ladder through a bare net/http handler in front of the raw calls (side \"bare\"): the floor of any HTTP frontend making them")
	flag.Parse()
	if o.ladder.factor <= 1 || o.ladder.start <= 0 || o.ladder.steps < 1 || o.rounds < 1 || o.ladder.step < 2*time.Second {
		fmt.Fprintln(os.Stderr, "pipeline: want -start > 0, -factor > 1, -max-steps ≥ 1, -rounds ≥ 1, -step ≥ 2s")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
}

type options struct {
	repo, bin string
	rounds    int
	keep      bool
	traces    bool
	bare      bool // a third side: raw-frontend's bare HTTP handler
	// feExtra and beExtra are added to the app services' environment, to measure a
	// setting's cost (LOG_LEVEL=warn) or to profile them.
	feExtra, beExtra []string
	ladder           ladderOptions
}

func run(ctx context.Context, o options, progress io.Writer) (rep *report, err error) {
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		return nil, err
	}
	bin := o.bin
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(repo, bin)
	}
	for _, b := range []string{"localazure", "frontend", "backend"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%s: build the binaries first (make bench-pipeline does): %w", filepath.Join(bin, b), err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pipeline-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil || o.keep { // the logs say why
			fmt.Fprintf(progress, "pipeline: logs kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	rep = &report{ladder: o.ladder, start: time.Now(), traces: o.traces}
	for round := range o.rounds {
		// Each round gets a fresh stack: the stand-ins keep every order, receipt and
		// event in memory, and at a few hundred orders/s three ladders write about
		// 100k of each; over several rounds Azurite's in-memory store alone grew
		// past 2 GB and stopped answering, so later rounds measured a stack the earlier
		// ones had filled. Fresh, the rounds are alike and independent.
		roundDir := filepath.Join(dir, fmt.Sprintf("round-%d", round+1))
		if err := os.Mkdir(roundDir, 0o700); err != nil {
			return nil, err
		}
		if err := runRound(ctx, o, round, repo, bin, self, roundDir, rep, progress); err != nil {
			return nil, err
		}
	}
	rep.took = time.Since(rep.start)
	return rep, nil
}

// runRound starts the local stack in dir, climbs the ladder of every side on it, in
// turn, and stops it.
func runRound(ctx context.Context, o options, round int, repo, bin, self, dir string, rep *report, progress io.Writer) error {
	config, err := benchConfig(repo, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "round %d: starting a fresh local stack (logs in %s)\n", round+1, dir)
	la, err := startLauncher(ctx, repo, bin, config, dir)
	if err != nil {
		return err
	}
	defer la.proc.stop(10 * time.Second)
	feEnv, err := la.env("frontend")
	if err != nil {
		return err
	}
	beEnv, err := la.env("backend")
	if err != nil {
		return err
	}
	if !o.traces {
		// The deployment's default: without OTEL_EXPORTER_OTLP_* the services only
		// propagate trace context (docs/architecture.md, tracing), and nothing is exported.
		for _, env := range []map[string]string{feEnv, beEnv} {
			for k := range env {
				if strings.HasPrefix(k, "OTEL_EXPORTER_OTLP_") {
					delete(env, k)
				}
			}
		}
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	tr, err := startTracker(trackCtx, feEnv)
	if err != nil {
		return err
	}
	stackPIDs := func() map[string][]int {
		pid := la.proc.cmd.Process.Pid
		return map[string][]int{"localazure": {pid}, "azurite": descendants(pid)}
	}

	sides := []side{
		{name: "app", start: func() (*pair, error) { return startApp(ctx, bin, dir, feEnv, beEnv, o.feExtra, o.beExtra) }},
		{name: "raw", start: func() (*pair, error) { return startRaw(ctx, self, dir, feEnv, beEnv, false) }},
	}
	if o.bare {
		sides = append(sides, side{name: "bare", start: func() (*pair, error) { return startRaw(ctx, self, dir, feEnv, beEnv, true) }})
	}
	for _, s := range sides {
		fmt.Fprintf(progress, "round %d, %s:\n", round+1, s.name)
		p, err := s.start()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		m := &meter{pids: func() map[string][]int {
			out := stackPIDs()
			out["frontend"], out["backend"] = []int{p.frontend.cmd.Process.Pid}, []int{p.backend.cmd.Process.Pid}
			// The load generator shares the two cores: its HTTP client works for
			// app and bare only (raw schedules its own orders), so it is counted.
			out["driver"] = []int{os.Getpid()}
			return out
		}}
		// A warm-up step, not reported: connections, tokens, JIT in Azurite.
		if _, err := runLadder(ctx, s.name+"-warm", p.placer, tr, m, ladderOptions{start: 20, factor: 2, steps: 1, step: 3 * time.Second, drain: o.ladder.drain}, io.Discard); err != nil {
			p.stop()
			return fmt.Errorf("%s warm-up: %w", s.name, err)
		}
		steps, err := runLadder(ctx, s.name, p.placer, tr, m, o.ladder, progress)
		p.stop()
		if err != nil {
			return fmt.Errorf("%s ladder: %w", s.name, err)
		}
		rep.add(round, s.name, steps)
	}
	return nil
}

func appendTo(list *[]string) func(string) error {
	return func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("%q: want KEY=VALUE", v)
		}
		*list = append(*list, v)
		return nil
	}
}

type side struct {
	name  string
	start func() (*pair, error)
}

// pair is one side's two processes and how to place orders through them.
type pair struct {
	frontend, backend *process
	placer            placer
}

func (p *pair) stop() {
	p.frontend.stop(10 * time.Second)
	p.backend.stop(10 * time.Second)
}

// startApp runs bin/frontend and bin/backend with the env files the launcher wrote,
// on free ports, and waits for the frontend's readiness.
func startApp(ctx context.Context, bin, dir string, feEnv, beEnv map[string]string, feExtra, beExtra []string) (*pair, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	be, err := startProcess("backend", commandIn(filepath.Join(bin, "backend"), environ(beEnv, append([]string{"HEALTH_ADDR=" + hostPort(ports[0])}, beExtra...)...)), filepath.Join(dir, "backend.log"))
	if err != nil {
		return nil, err
	}
	fe, err := startProcess("frontend", commandIn(filepath.Join(bin, "frontend"), environ(feEnv, append([]string{"HTTP_ADDR=" + hostPort(ports[1])}, feExtra...)...)), filepath.Join(dir, "frontend.log"))
	if err != nil {
		be.stop(5 * time.Second)
		return nil, err
	}
	p := &pair{frontend: fe, backend: be, placer: newAppPlacer("http://" + hostPort(ports[1]))}
	if err := waitHTTP(ctx, "http://"+hostPort(ports[1])+"/readyz", fe, time.Minute); err != nil {
		p.stop()
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+hostPort(ports[0])+"/readyz", be, time.Minute); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startRaw runs this binary's raw-frontend and raw-backend with the same env files.
// bare places the orders through raw-frontend's POST /api/orders instead of its
// own schedule.
func startRaw(ctx context.Context, self, dir string, feEnv, beEnv map[string]string, bare bool) (*pair, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	be, err := startProcess("raw-backend", commandIn(self, environ(beEnv), "raw-backend"), filepath.Join(dir, "raw-backend.log"))
	if err != nil {
		return nil, err
	}
	fe, err := startProcess("raw-frontend", commandIn(self, environ(feEnv, "PIPELINE_CONTROL_ADDR="+hostPort(port)), "raw-frontend"), filepath.Join(dir, "raw-frontend.log"))
	if err != nil {
		be.stop(5 * time.Second)
		return nil, err
	}
	p := &pair{frontend: fe, backend: be, placer: &rawPlacer{control: "http://" + hostPort(port)}}
	if bare {
		p.placer = newAppPlacer("http://" + hostPort(port))
	}
	if err := waitHTTP(ctx, "http://"+hostPort(port)+"/failed", fe, time.Minute); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/shellwords"
	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

// execFlags collects repeated --exec workload=command values.
type execFlags []execSpec

type execSpec struct {
	workload string
	argv     []string
}

func (e *execFlags) String() string { return fmt.Sprint(len(*e), " commands") }

func (e *execFlags) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || name == "" || strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("%q: write workload=command, e.g. backend=bin/backend", v)
	}
	argv, err := shellwords.Split(cmd)
	if err != nil {
		return fmt.Errorf("%q: %w", v, err)
	}
	*e = append(*e, execSpec{workload: name, argv: argv})
	return nil
}

// commonFlags are the flags that locate the configuration and the state directory.
type commonFlags struct {
	configPath, stateDir string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "localazure.json to use (default: the closest one in this folder or above)")
	fs.StringVar(&c.stateDir, "state-dir", "", "folder for the CA, token files and env files (default: .localazure next to localazure.json)")
}

// resolve finds the configuration and the state directory.
func (c *commonFlags) resolve() (configPath, stateDir string, err error) {
	configPath = c.configPath
	if configPath == "" {
		if configPath, err = stackconfig.Find("."); err != nil {
			return "", "", err
		}
	}
	if configPath, err = filepath.Abs(configPath); err != nil {
		return "", "", err
	}
	stateDir = c.stateDir
	if stateDir == "" {
		// Next to localazure.json, i.e. the repository root, where .gitignore lists it.
		stateDir = filepath.Join(filepath.Dir(configPath), ".localazure")
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return "", "", err
	}
	return configPath, stateDir, nil
}

func up(args []string, began time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localazure up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	dataDir := fs.String("data-dir", "", "persist Cosmos DB, Service Bus and Blob data in this folder (default: in memory)")
	blob := fs.Bool("blob", true, "start Azurite for Blob Storage (installed by make run or scripts/install-test-deps.sh)")
	grace := fs.Duration("grace", 10*time.Second, "how long --exec commands get to exit after SIGTERM before they are killed")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	defOffset, err := defaultPortOffset(os.Getenv)
	if err != nil {
		return err
	}
	offset := fs.Int("port-offset", defOffset, "add `N` to every port: the stand-ins' and the workloads' listen ports (default $"+portOffsetEnv+", else 0)")
	var execs execFlags
	fs.Var(&execs, "exec", "run `workload=command` with the workload's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("up: unexpected argument %q", fs.Arg(0))}
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	configPath, stateDir, err := common.resolve()
	if err != nil {
		return err
	}

	// Check --exec against the configuration before binding anything.
	cfg, err := stackconfig.Load(configPath)
	if err != nil {
		return err
	}
	var started []string
	for _, e := range execs {
		if _, ok := cfg.Workload(e.workload); !ok {
			return usageError{fmt.Errorf("--exec %s=...: no workload %q in %s; use one of: %s", e.workload, e.workload, configPath, strings.Join(cfg.WorkloadNames(), ", "))}
		}
		started = append(started, e.workload)
	}
	if err := cfg.ShiftPorts(*offset); err != nil {
		return usageError{err}
	}
	// Every port, before anything starts: a port taken now would leave half a stack.
	if err := checkPortsFree(claims(cfg, started, *blob, lookupEnv), *offset); err != nil {
		return fmt.Errorf("cannot start, ports are taken:\n%w", err)
	}
	for _, name := range started {
		w, _ := cfg.Workload(name)
		for _, l := range w.ListenAddrs(lookupEnv) {
			if l.Overridden {
				logger.Info("listen address from the launcher's environment, used as given (not moved by --port-offset)", "workload", name, "var", l.Var, "addr", l.Addr)
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, stack.Options{
		ConfigPath: configPath, StateDir: stateDir, DataDir: *dataDir,
		FixedPorts: true, PortOffset: *offset, ListenOverride: lookupEnv, Blob: *blob, Logger: logger,
	})
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C while starting: what was started is stopped
			fmt.Fprintln(stdout, "interrupted before the stack was ready; stopped")
			return nil
		}
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("stopping the local stack", "err", err)
		}
	}()
	// Run-time faults are for this run: a new stack starts without those of the last.
	if err := fault.WriteRuntime(stateDir, nil, time.Now()); err != nil {
		return err
	}
	go st.Faults().Watch(ctx, stateDir) // `localazure fault` writes there
	if err := writeAccessLog(ctx, st.Access(), filepath.Join(stateDir, "access.log")); err != nil {
		return err
	}
	envFiles, err := st.WriteEnvFiles(stateDir)
	if err != nil {
		return err
	}
	printReady(stdout, st, envFiles, *offset, time.Since(began))

	children := newSupervisor(stdout, logger)
	children.pidDir = stateDir
	ann := newAnnouncer(stdout, &children.outMu, began)
	children.onReady = ann.ready
	for _, e := range execs { // all before any starts, or the first could announce alone
		ann.expect(e.workload, st.ListenAddrs(e.workload))
	}
	for _, e := range execs {
		if err := children.start(e.workload, e.argv, st.Env(e.workload), st.ListenAddrs(e.workload)); err != nil {
			children.stop(*grace)
			return err
		}
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-children.fatal:
	}
	stop() // a second Ctrl-C now kills the launcher the default way
	fmt.Fprintln(stdout, "stopping…")
	children.stop(*grace)
	return failed
}

func printReady(w io.Writer, st *stack.Stack, envFiles map[string]string, offset int, took time.Duration) {
	fmt.Fprintf(w, "localazure ready in %s\n", took.Round(time.Millisecond))
	if offset != 0 {
		fmt.Fprintf(w, "every port moved by %+d (--port-offset, %s)\n", offset, portOffsetEnv)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range st.Status(context.Background()) {
		state := "ok"
		if s.Err != nil {
			state = "FAILED: " + s.Err.Error()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, s.URL, state)
	}
	tw.Flush()
	fmt.Fprintln(w, "env files (source one, or pass --exec workload=command):")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range envFiles {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(w, "  %-10s %s\n", name, envFiles[name])
	}
	fmt.Fprintf(w, "CA certificate (SSL_CERT_FILE): %s\n", st.CAFile())
	fmt.Fprintf(w, "access log (every RBAC decision, JSON lines): %s\n", filepath.Join(st.StateDir(), "access.log"))
	fmt.Fprintf(w, "traces and access log (OTLP/HTTP in at the same address): %s\n", st.Endpoints().TraceView)
	fmt.Fprintln(w, "Ctrl-C stops everything.")
}

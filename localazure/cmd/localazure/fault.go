package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

const faultUsage = `usage:
  localazure fault add <service> <fault> [--operation read|write] [--path p] [--rate 0.3]
                       [--latency 300ms] [--retry-after 1s] [--every 10s] [--for 30s]
  localazure fault list
  localazure fault clear
services: identity, keyvault, cosmos, blob (faults: throttle, unavailable, latency)
          servicebus (faults: drop-connections, lose-locks)
A running ` + "`localazure up`" + ` applies the change within a second. See localazure/README.md, "Fault injection".
`

// faultCmd edits the run-time faults of the stack whose state directory it finds.
func faultCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("fault: say add, list or clear\n%s", faultUsage)}
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("localazure fault "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	var r fault.Rule
	if verb == "add" {
		fs.StringVar(&r.Operation, "operation", "", "read or write (default both)")
		fs.StringVar(&r.Path, "path", "", "only requests whose path contains this")
		fs.Float64Var(&r.Rate, "rate", 0, "share of matching requests that fail (default 1)")
		fs.StringVar(&r.Latency, "latency", "", "delay of a latency fault")
		fs.StringVar(&r.RetryAfter, "retry-after", "", "retry hint of a throttle fault (default 1s)")
		fs.StringVar(&r.Every, "every", "", "repeat a servicebus fault at this interval")
		fs.StringVar(&r.For, "for", "", "end the fault after this long")
		// Positional service and fault first, flags after, as the usage shows.
		if len(args) < 2 {
			return usageError{fmt.Errorf("fault add: name the service and the fault\n%s", faultUsage)}
		}
		r.Service, r.Fault, args = args[0], args[1], args[2:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("fault %s: unexpected argument %q", verb, fs.Arg(0))}
	}
	configPath, stateDir, err := common.resolve()
	if err != nil {
		return err
	}
	now := time.Now()
	rules, err := fault.ReadRuntime(stateDir, now)
	if err != nil {
		return err
	}
	switch verb {
	case "add":
		if err := r.Validate(); err != nil {
			return usageError{fmt.Errorf("fault add: %w", err)}
		}
		if err := fault.WriteRuntime(stateDir, append(rules, r), now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added: %s\n", r)
	case "clear":
		if err := fault.WriteRuntime(stateDir, nil, now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cleared %d run-time faults (those in %s stay)\n", len(rules), configPath)
	case "list":
		if cfg, err := stackconfig.Load(configPath); err == nil {
			for _, c := range cfg.LocalAzure.Faults {
				fmt.Fprintf(stdout, "config   %s\n", c)
			}
		}
		for _, c := range rules {
			fmt.Fprintf(stdout, "runtime  %s\n", c)
		}
		if len(rules) == 0 {
			fmt.Fprintln(stdout, "no run-time faults")
		}
	default:
		return usageError{fmt.Errorf("fault: unknown verb %q\n%s", verb, faultUsage)}
	}
	return nil
}

// Command localazure runs the local Azure stand-ins for development:
//
//	localazure up [--config f] [--state-dir d] [--data-dir d] [--exec workload=command ...]
//	localazure env <workload> [--config f] [--state-dir d]
//	localazure fault add <service> <fault> [flags] | list | clear
//	localazure secret set <name> (--value v | --generate N) | list <name>
//	localazure peek <queue | topic/subscriptions/sub> [--max N]
//	localazure version
//
// `up` starts the local Entra ID, Key Vault, Cosmos DB, Service Bus and Azurite on
// the ports of localazure.json, writes one env file per workload (the variables the
// AKS workload identity webhook and the Deployment set in Azure), and runs the given
// commands with their workload's environment until Ctrl-C. See localazure/README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	// The launcher's output is often a pipe (make run | tee, a CI log): if the reader
	// goes away, writes must fail, not kill the stand-ins and orphan the workloads.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  localazure up [--config localazure.json] [--state-dir .localazure] [--data-dir dir] [--blob=true] [--exec workload=command ...]
  localazure env <workload> [--config localazure.json] [--state-dir .localazure]
  localazure fault add|list|clear ...   (faults for the running stack; localazure fault for help)
  localazure secret set <name> (--value v | --generate N) | secret list <name>   (Key Vault of the running stack, as a workload)
  localazure peek <queue | topic/subscriptions/sub> [--max N] [--as workload]   (messages and delivery counts, nothing locked)
  localazure version
`

// run is main without the process exit: it returns the exit status (2 for usage
// errors) so that main stays one line.
func run(args []string, stdout, stderr io.Writer) int {
	began := time.Now()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = up(args[1:], began, stdout, stderr)
	case "env":
		err = printEnv(args[1:], stdout, stderr)
	case "fault":
		err = faultCmd(args[1:], stdout, stderr)
	case "secret":
		err = secretCmd(args[1:], stdout, stderr)
	case "peek":
		err = peekCmd(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "localazure: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "localazure: %v\n%s", err, usage)
			return 2
		}
		fmt.Fprintf(stderr, "localazure: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a stand-in workload (see
// TestHelperWorkload): "listen" listens on the address in the variable named by
// its argument after a pause; "listen-then-78" exits 78 once it has listened.
const helperEnv = "LOCALAZURE_TEST_HELPER"

// helperArgv runs this test binary as a workload that listens on $variable.
func helperArgv(variable string) []string {
	return []string{os.Args[0], "-test.run=^TestHelperWorkload$", "--", variable}
}

// helperCommand is helperArgv as one --exec command line.
func helperCommand(variable string) string { return strings.Join(helperArgv(variable), " ") }

// cleanEnv is the test's environment without the listen variables a developer
// may have set, which the launcher would otherwise take as overrides.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "HTTP_ADDR" && k != "HEALTH_ADDR" && k != portOffsetEnv && k != helperEnv {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

func TestHelperWorkload(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("only a workload for the other tests")
	}
	variable := flag.Arg(0)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Printf("helper %s: pid %d\n", variable, os.Getpid())
	time.Sleep(700 * time.Millisecond) // long enough that a banner printed early would show first
	ln, err := net.Listen("tcp", os.Getenv(variable))
	if err != nil {
		fmt.Printf("helper %s: %v\n", variable, err)
		os.Exit(1)
	}
	fmt.Printf("helper %s: listening on %s\n", variable, ln.Addr())
	if mode == "listen-then-78" {
		time.Sleep(time.Second) // the launcher sees it listening
		fmt.Println("configuration: gave up after being ready")
		os.Exit(78)
	}
	<-term
	fmt.Printf("helper %s: got-term\n", variable)
	os.Exit(0)
}

// lockedOutput is an io.Writer for a process's combined output, safe to read
// while it runs.
type lockedOutput struct{ syncBuffer }

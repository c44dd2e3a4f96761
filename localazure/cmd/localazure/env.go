package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// printEnv prints the env file `up` wrote for a workload.
func printEnv(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localazure env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	// Allow the workload before or after the flags.
	var workload string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		workload, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if workload == "" && fs.NArg() > 0 {
		workload = fs.Arg(0)
	}
	if workload == "" {
		return usageError{errors.New("env: name a workload, e.g. `localazure env backend`")}
	}
	_, stateDir, err := common.resolve()
	if err != nil {
		return err
	}
	p := filepath.Join(stateDir, workload+".env")
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no env file for workload %q in %s: start the stack with `localazure up` (or `make run`) first", workload, stateDir)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

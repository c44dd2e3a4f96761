// Command envexec is the one helper the docker-compose stacks need inside distroless
// images, which have no shell:
//
//	envexec [-wait 60s] FILE... -- CMD [ARG...]   load KEY=VALUE files, then exec CMD
//	envexec -check FILE...                        exit 0 when every file exists (healthcheck)
//	envexec -probe URL                            exit 0 when GET URL answers 2xx (healthcheck)
//	envexec -await 300s TARGET...                 wait until every URL or tcp://host:port answers
//
// The first form is how the `localazure` compose profile hands the services the
// AZURE_* variables that `localazure up` writes to env files on a shared volume: the
// files appear only once the stand-ins run, so they cannot be compose env_file
// entries. Like the workload identity webhook, it never overwrites a variable that is
// already set (an explicit compose `environment:` entry wins).
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), syscall.Exec))
}

type execFunc func(argv0 string, argv []string, envv []string) error

func run(args, environ []string, exec execFunc) int {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "-check":
		return check(args[1:])
	case "-probe":
		if len(args) != 2 {
			return usage()
		}
		return probe(args[1], 3*time.Second)
	case "-await":
		if len(args) < 3 {
			return usage()
		}
		limit, err := time.ParseDuration(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "envexec: -await %q: %v\n", args[1], err)
			return 2
		}
		return await(args[2:], limit, 2*time.Second)
	}
	wait := 60 * time.Second
	if args[0] == "-wait" {
		if len(args) < 2 {
			return usage()
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "envexec: -wait %q: %v\n", args[1], err)
			return 2
		}
		wait, args = d, args[2:]
	}
	files, cmd, ok := splitArgs(args)
	if !ok {
		return usage()
	}
	env, err := loadAll(files, environ, wait)
	if err != nil {
		fmt.Fprintf(os.Stderr, "envexec: %v\n", err)
		return 1
	}
	err = exec(cmd[0], cmd, env)
	fmt.Fprintf(os.Stderr, "envexec: exec %s: %v\n", cmd[0], err)
	return 1
}

func splitArgs(args []string) (files, cmd []string, ok bool) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:], i > 0 && i+1 < len(args)
		}
	}
	return nil, nil, false
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: envexec [-wait 60s] FILE... -- CMD [ARG...] | envexec -check FILE... | envexec -probe URL | envexec -await DURATION TARGET...")
	return 2
}

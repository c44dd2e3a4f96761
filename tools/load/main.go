// Command load places orders against a running orderflow frontend at a fixed rate or
// concurrency, follows each one to Completed, and prints a table: accepted/s,
// completed/s, accept and end-to-end latency percentiles, errors by kind, the backlog
// left at the end and, given process IDs, the peak RSS of each service.
//
//	go run ./tools/load -url http://localhost:8080 -rate 200 -duration 30s
//	go run ./tools/load -concurrency 16 -orders 2000 -rss frontend=$(pgrep -f bin/frontend)
//
// End-to-end latency is the order's own timestamps (createdAt by the frontend, updatedAt
// when the backend completed it), so the poll interval does not blur it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://localhost:8080", "frontend base URL")
	flag.Float64Var(&o.rate, "rate", 0, "orders per second (0 = as fast as -concurrency allows)")
	flag.IntVar(&o.concurrency, "concurrency", 8, "parallel order placers")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long to place orders")
	flag.IntVar(&o.orders, "orders", 0, "stop after this many orders (0 = no limit)")
	flag.IntVar(&o.customers, "customers", 50, "distinct customer IDs to spread orders over")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long to wait for outstanding orders after placing stops")
	flag.DurationVar(&o.poll, "poll", 250*time.Millisecond, "how often to check outstanding orders")
	rss := flag.String("rss", "", "comma-separated name=pid pairs whose peak RSS to report, e.g. frontend=123,backend=456")
	flag.Parse()

	var err error
	if o.pids, err = parsePIDs(*rss); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if o.concurrency < 1 || o.customers < 1 {
		fmt.Fprintln(os.Stderr, "load: -concurrency and -customers must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	r.print(os.Stdout)
}

func parsePIDs(s string) (map[string]int, error) {
	out := map[string]int{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, pid, ok := strings.Cut(kv, "=")
		var n int
		if _, err := fmt.Sscan(pid, &n); !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("-rss %q: want name=pid pairs, e.g. frontend=1234", kv)
		}
		out[name] = n
	}
	return out, nil
}

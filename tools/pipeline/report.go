package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report holds every ladder of a run.
type report struct {
	ladder ladderOptions
	traces bool // the app exported traces
	start  time.Time
	took   time.Duration
	rounds []map[string][]stepResult // per round: side name → steps
}

func (r *report) add(round int, side string, steps []stepResult) {
	for len(r.rounds) <= round {
		r.rounds = append(r.rounds, map[string][]stepResult{})
	}
	r.rounds[round][side] = steps
}

// processes in the order the table lists them.
var processes = []string{"frontend", "backend", "localazure", "azurite"}

// roundFigures are one round's headline numbers.
type roundFigures struct {
	app, raw       stepResult
	ok             bool
	ratio          float64
	common         float64 // the highest rate both sides sustained
	cpuApp, cpuRaw map[string]time.Duration
}

func (r *report) figures(i int) roundFigures {
	var f roundFigures
	app, okA := best(r.rounds[i]["app"])
	raw, okR := best(r.rounds[i]["raw"])
	if !okA || !okR {
		return f
	}
	f.app, f.raw, f.ok = app, raw, true
	f.ratio = app.completed / raw.completed
	f.common = commonRate(r.rounds[i]["app"], r.rounds[i]["raw"])
	f.cpuApp = perOrder(r.rounds[i]["app"], f.common)
	f.cpuRaw = perOrder(r.rounds[i]["raw"], f.common)
	return f
}

// commonRate is the highest rate both sides ran and sustained, where their CPU per
// order compares like for like: a refine step's rate is usually run by one side only.
func commonRate(a, b []stepResult) float64 {
	var out float64
	for _, x := range a {
		for _, y := range b {
			if x.sustained && y.sustained && x.rate == y.rate && x.rate > out {
				out = x.rate
			}
		}
	}
	return out
}

// perOrder is each process's CPU per order in the step at rate.
func perOrder(steps []stepResult, rate float64) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, s := range steps {
		if s.rate == rate && s.orders > 0 {
			for k, v := range s.cpu {
				out[k] = v / time.Duration(s.orders)
			}
		}
	}
	return out
}

func total(m map[string]time.Duration) time.Duration {
	var t time.Duration
	for _, v := range m {
		t += v
	}
	return t
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\npipeline: open-loop ladder, %s steps from %.0f/s ×%.2f; %d CPUs %s/%s; took %s\n\n",
		r.ladder.step, r.ladder.start, r.ladder.factor, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, r.took.Round(time.Second))
	if r.traces {
		fmt.Fprintln(w, "the app exports traces to localazure's trace view (-traces)")
	} else {
		fmt.Fprintln(w, "the app as deployed by default: tracing propagate-only, no OTLP exporter (-traces to export)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tside\tmax sustained\tcompleted/s\te2e p50\te2e p95\tfrontend CPU/order\ttotal CPU/order\t")
	var ratios, feRatios, totalRatios []float64
	var last roundFigures
	for i := range r.rounds {
		f := r.figures(i)
		for _, side := range []string{"app", "raw"} {
			s, ok := best(r.rounds[i][side])
			if !ok {
				fmt.Fprintf(tw, "%d\t%s\tnone (the first step failed)\t\t\t\t\t\t\n", i+1, side)
				continue
			}
			cpu := f.cpuApp
			if side == "raw" {
				cpu = f.cpuRaw
			}
			// Without a rate both sides sustained there is no like-for-like CPU figure.
			feCPU, totalCPU := "—", "—"
			if len(cpu) > 0 {
				feCPU, totalCPU = ms(cpu["frontend"]), ms(total(cpu))
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f/s\t%.1f\t%s\t%s\t%s\t%s\t\n", i+1, side, s.rate, s.completed,
				s.p50.Round(time.Millisecond), s.p95.Round(time.Millisecond), feCPU, totalCPU)
		}
		if f.ok {
			ratios = append(ratios, f.ratio)
			feRatios = append(feRatios, ratio(f.cpuApp["frontend"], f.cpuRaw["frontend"]))
			totalRatios = append(totalRatios, ratio(total(f.cpuApp), total(f.cpuRaw)))
			last = f
		}
	}
	tw.Flush()
	if len(ratios) == 0 {
		fmt.Fprintln(w, "\nno round has a sustained step on both sides: lower -start")
		return
	}
	fmt.Fprintf(w, "\napp/raw sustained completed/s: %s\n", spread(ratios))
	fmt.Fprintf(w, "frontend CPU per order, app/raw: %s\n", spread(feRatios))
	fmt.Fprintf(w, "total CPU per order, app/raw: %s\n", spread(totalRatios))
	fmt.Fprintf(w, "\nCPU per order at %.0f/s, the highest rate both sides sustained in the last round:\n\n", last.common)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tapp\traw\tapp/raw\t")
	for _, p := range processes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t\n", p, ms(last.cpuApp[p]), ms(last.cpuRaw[p]), ratio(last.cpuApp[p], last.cpuRaw[p]))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t%.2f\t\n", ms(total(last.cpuApp)), ms(total(last.cpuRaw)), ratio(total(last.cpuApp), total(last.cpuRaw)))
	tw.Flush()
	fmt.Fprintln(w, "\n(the raw side's frontend and backend are tools/pipeline's raw-frontend and raw-backend: the same SDK calls, no HTTP API, logging, metrics or tracing)")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// spread formats the median and range of xs.
func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("median %.2f (rounds: %s; spread %.2f–%.2f)", s[len(s)/2], strings.Join(parts, ", "), s[0], s[len(s)-1])
}

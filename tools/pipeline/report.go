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
var processes = []string{"frontend", "backend", "localazure", "azurite", "driver"}

// roundFigures are one round's headline numbers for the app against one baseline
// side (raw, or bare).
type roundFigures struct {
	app, base      stepResult
	ok             bool
	ratio          float64
	common         float64 // the highest rate both sides sustained
	cpuApp, cpuRaw map[string]time.Duration
}

func (r *report) figures(i int, baseline string) roundFigures {
	var f roundFigures
	app, okA := best(r.rounds[i]["app"])
	base, okB := best(r.rounds[i][baseline])
	if !okA || !okB {
		return f
	}
	f.app, f.base, f.ok = app, base, true
	f.ratio = app.completed / base.completed
	f.common = commonRate(r.rounds[i]["app"], r.rounds[i][baseline])
	f.cpuApp = perOrder(r.rounds[i]["app"], f.common)
	f.cpuRaw = perOrder(r.rounds[i][baseline], f.common)
	return f
}

// hasSide reports whether any round ran side.
func (r *report) hasSide(side string) bool {
	for _, round := range r.rounds {
		if _, ok := round[side]; ok {
			return true
		}
	}
	return false
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
	sides := []string{"app", "raw"}
	if r.hasSide("bare") {
		sides = []string{"app", "bare", "raw"}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tside\tmax sustained\tcompleted/s\te2e p50\te2e p95\tfrontend CPU/order\ttotal CPU/order\t")
	for i := range r.rounds {
		for _, side := range sides {
			s, ok := best(r.rounds[i][side])
			if !ok {
				fmt.Fprintf(tw, "%d\t%s\tnone (the first step failed)\t\t\t\t\t\t\n", i+1, side)
				continue
			}
			// The CPU figures are those at the rate app and raw both sustained (app and
			// bare for the bare side); without one there is no like-for-like figure.
			baseline := "raw"
			if side == "bare" {
				baseline = "bare"
			}
			f := r.figures(i, baseline)
			cpu := f.cpuApp
			if side != "app" {
				cpu = f.cpuRaw
			}
			feCPU, totalCPU := "—", "—"
			if len(cpu) > 0 {
				feCPU, totalCPU = ms(cpu["frontend"]), ms(total(cpu))
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f/s\t%.1f\t%s\t%s\t%s\t%s\t\n", i+1, side, s.rate, s.completed,
				s.p50.Round(time.Millisecond), s.p95.Round(time.Millisecond), feCPU, totalCPU)
		}
	}
	tw.Flush()
	last, ok := r.printRatios(w, "raw")
	if !ok {
		fmt.Fprintln(w, "\nno round has a sustained step on both sides: lower -start")
		return
	}
	lastBare, bareOK := last, false
	if r.hasSide("bare") {
		lastBare, bareOK = r.printRatios(w, "bare")
	}
	fmt.Fprintf(w, "\nCPU per order at %.0f/s, the highest rate app and raw both sustained in the last round:\n\n", last.common)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tapp\traw\tapp/raw\t")
	for _, p := range processes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t\n", p, ms(last.cpuApp[p]), ms(last.cpuRaw[p]), ratio(last.cpuApp[p], last.cpuRaw[p]))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t%.2f\t\n", ms(total(last.cpuApp)), ms(total(last.cpuRaw)), ratio(total(last.cpuApp), total(last.cpuRaw)))
	tw.Flush()
	if bareOK {
		fmt.Fprintf(w, "\nthe same against bare, at %.0f/s: frontend %s app, %s bare (%.2f)\n", lastBare.common,
			ms(lastBare.cpuApp["frontend"]), ms(lastBare.cpuRaw["frontend"]), ratio(lastBare.cpuApp["frontend"], lastBare.cpuRaw["frontend"]))
	}
	fmt.Fprintln(w, "\n(the raw side's frontend and backend are tools/pipeline's raw-frontend and raw-backend: the same SDK calls, no HTTP API, logging, metrics or tracing)")
	if r.hasSide("bare") {
		fmt.Fprintln(w, "(bare is raw-frontend's POST /api/orders: net/http, one json.Unmarshal, the same SDK calls, no framework, log, metrics or tracing)")
	}
	fmt.Fprintln(w, "(driver is this tool: the completion tracker for every side, and the HTTP client that posts the orders of app and bare; raw places its own)")
}

// printRatios prints the app's ratios to baseline over the rounds that have both,
// and returns the last such round's figures.
func (r *report) printRatios(w io.Writer, baseline string) (roundFigures, bool) {
	var ratios, feRatios, totalRatios []float64
	var last roundFigures
	for i := range r.rounds {
		f := r.figures(i, baseline)
		if !f.ok {
			continue
		}
		ratios = append(ratios, f.ratio)
		last = f
		if len(f.cpuApp) > 0 {
			feRatios = append(feRatios, ratio(f.cpuApp["frontend"], f.cpuRaw["frontend"]))
			totalRatios = append(totalRatios, ratio(total(f.cpuApp), total(f.cpuRaw)))
		}
	}
	if len(ratios) == 0 {
		return last, false
	}
	fmt.Fprintf(w, "\napp/%s sustained completed/s: %s\n", baseline, spread(ratios))
	if len(feRatios) > 0 {
		fmt.Fprintf(w, "frontend CPU per order, app/%s: %s\n", baseline, spread(feRatios))
		fmt.Fprintf(w, "total CPU per order, app/%s: %s\n", baseline, spread(totalRatios))
	}
	return last, true
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

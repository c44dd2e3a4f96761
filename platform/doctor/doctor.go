package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// Status is the outcome of one check.
type Status string

// The statuses of a row. Only Problem makes the exit code non-zero: Skipped means the
// check could not run (an earlier link is broken) or was not asked for (--write).
const (
	OK      Status = "ok"
	Problem Status = "problem"
	Skipped Status = "skipped"
)

// Row is one link of the chain.
type Row struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the result of Run.
type Report struct {
	Service string `json:"service"`
	OK      bool   `json:"ok"`
	Rows    []Row  `json:"checks"`
}

// Row returns the row named name, or a zero Row.
func (r Report) Row(name string) Row {
	for _, row := range r.Rows {
		if row.Name == name {
			return row
		}
	}
	return Row{}
}

// Options select what Run checks.
type Options struct {
	// Service is "frontend" or "backend": it decides which permissions are needed.
	Service string
	// Getenv reads the environment (os.Getenv in main, a map in tests).
	Getenv func(string) string
	// Write enables the probes that write (a probe blob, a scheduled-and-cancelled
	// message); without it they are skipped, so that a default run changes nothing.
	Write bool
	// Now is the clock the token's exp is compared with (time.Now when nil).
	Now func() time.Time
	// CheckTimeout bounds each network check (20 s when 0).
	CheckTimeout time.Duration
}

// Run performs every check in order and returns the report. A broken link makes the
// checks that depend on it Skipped, with the reason, rather than repeating its error.
func Run(ctx context.Context, o Options) Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 20 * time.Second
	}
	d := &run{o: o, rep: Report{Service: o.Service}}
	d.webhookVars()
	cfg, cfgOK := d.configuration()
	tok := d.tokenFile()

	var clients *azure.Clients
	if cfgOK {
		var err error
		// No logger: the doctor's output is its table, not the services' log lines.
		clients, err = azure.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			d.add(Row{Name: "clients", Status: Problem, Detail: oneLine(err.Error()), Fix: "correct the value the error names (see docs/configuration.md)"})
			cfgOK = false
		} else {
			defer func() {
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = clients.Close(cctx)
			}()
		}
	}

	var why string // why the Entra-dependent checks cannot run, "" when they can
	switch {
	case !cfgOK:
		why = "the configuration is incomplete (see the config row)"
	case tok.broken:
		why = "the token file cannot be exchanged (see the token-file row)"
	}
	entraOK := d.exchange(ctx, cfg, clients, tok, why)
	if why == "" && !entraOK {
		why = "Entra issued no token (see the entra-exchange row)"
	}
	d.dataPlane(ctx, cfg, clients, why)

	d.rep.OK = true
	for _, r := range d.rep.Rows {
		if r.Status == Problem {
			d.rep.OK = false
		}
	}
	return d.rep
}

// run carries one diagnosis.
type run struct {
	o   Options
	rep Report
}

func (d *run) add(r Row) { d.rep.Rows = append(d.rep.Rows, r) }

func (d *run) env(name string) string { return strings.TrimSpace(d.o.Getenv(name)) }

func (d *run) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d.o.CheckTimeout)
}

// webhookVars checks the four variables the workload identity webhook injects and
// says which part of the pod's set-up each missing one points to.
func (d *run) webhookVars() {
	names := []string{config.EnvClientID, config.EnvTenantID, config.EnvFederatedTokenFile, config.EnvAuthorityHost}
	var missing []string
	for _, n := range names {
		if d.env(n) == "" {
			missing = append(missing, n)
		}
	}
	row := Row{Name: "webhook-variables"}
	switch {
	case len(missing) == 0:
		row.Status, row.Detail = OK, "AZURE_CLIENT_ID="+d.env(config.EnvClientID)+" AZURE_TENANT_ID="+d.env(config.EnvTenantID)+
			" AZURE_AUTHORITY_HOST="+d.env(config.EnvAuthorityHost)
	case len(missing) == len(names) && d.env("KUBERNETES_SERVICE_HOST") == "":
		// Not in a pod: the services fall back to DefaultAzureCredential (az login),
		// which the exchange row tries; that is not a broken workload identity.
		row.Status, row.Detail = Skipped, "none is set and this is not a pod: the service uses DefaultAzureCredential (az login); "+
			"for the local stack, `set -a; . .localazure/"+d.o.Service+".env; set +a` first"
	case len(missing) == len(names):
		row.Status, row.Detail = Problem, "none of "+strings.Join(names, ", ")+" is set: the webhook did not mutate this pod"
		row.Fix = "label the pod template azure.workload.identity/use: \"true\" (deploy/base/" + d.o.Service + "-deployment.yaml spec.template.metadata.labels) " +
			"and check the webhook is installed (kubectl get mutatingwebhookconfiguration azure-wi-webhook-mutating-webhook-configuration; " +
			"on AKS: az aks update --enable-workload-identity); then restart the pod, since the webhook only mutates pods as they are created"
	default:
		row.Status, row.Detail = Problem, strings.Join(missing, ", ")+" not set"
		var fixes []string
		for _, n := range missing {
			switch n {
			case config.EnvClientID:
				fixes = append(fixes, "AZURE_CLIENT_ID: annotate the ServiceAccount azure.workload.identity/client-id: <the identity's clientId> "+
					"(deploy/base/"+d.o.Service+"-serviceaccount.yaml, set by the overlay from infra's "+d.o.Service+"ClientId output), then restart the pod")
			case config.EnvTenantID:
				fixes = append(fixes, "AZURE_TENANT_ID: the webhook takes it from the ServiceAccount annotation azure.workload.identity/tenant-id or its own azure-wi-webhook-config")
			default:
				fixes = append(fixes, n+": the webhook always sets it; the deployment's env must not override it with an empty value")
			}
		}
		row.Fix = strings.Join(fixes, "; ")
	}
	d.add(row)
}

// configuration loads the service's configuration as the service does and reports
// every problem on one row.
func (d *run) configuration() (config.Config, bool) {
	cfg, err := config.LoadFor(d.o.Service, d.o.Getenv)
	var ce *config.Error
	switch {
	case err == nil:
		d.add(Row{Name: "config", Status: OK, Detail: "platform/config.LoadFor accepted the environment"})
		return cfg, true
	case errors.As(err, &ce):
		d.add(Row{Name: "config", Status: Problem, Detail: fmt.Sprintf("%d problem(s): %s", len(ce.Problems), strings.Join(ce.Problems, " | ")),
			Fix: "set each variable named above (docs/configuration.md lists them all)"})
	default:
		d.add(Row{Name: "config", Status: Problem, Detail: oneLine(err.Error())})
	}
	return cfg, false
}

// Main is the doctor subcommand: it parses args, runs the checks and writes the
// report to out. It returns the process exit code: 0 when nothing is a problem,
// 1 when something is, 2 for bad arguments.
func Main(args []string, getenv func(string) string, out io.Writer, service string) int {
	fs := flag.NewFlagSet(service+" doctor", flag.ContinueOnError)
	fs.SetOutput(out)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	write := fs.Bool("write", false, "also probe write permissions (uploads and deletes a probe blob; schedules and cancels a Service Bus message)")
	timeout := fs.Duration("timeout", 20*time.Second, "bound on each network check")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: %s doctor [--json] [--write] [--timeout 20s]\n\n"+
			"Diagnoses this workload's Microsoft Entra Workload ID chain and its Azure permissions.\n"+
			"Exit code 0 when every check is ok or skipped, 1 when one is a problem.\n\n", service)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(out, "%s doctor: unexpected argument %q\n", service, fs.Arg(0))
		return 2
	}
	rep := Run(context.Background(), Options{Service: service, Getenv: getenv, Write: *write, CheckTimeout: *timeout})
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // fixes hold <placeholders>; keep them readable for people and jq alike
		_ = enc.Encode(rep)
	} else {
		WriteText(out, rep)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// WriteText prints the report as an aligned table; a fix goes on its own line under
// its row, since it is usually longer than any column.
func WriteText(out io.Writer, rep Report) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECK\tSTATUS\tDETAIL\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, oneLine(r.Detail))
		if r.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", oneLine(r.Fix))
		}
	}
	_ = tw.Flush()
	if rep.OK {
		fmt.Fprintf(out, "\n%s: every link of the workload identity chain works\n", rep.Service)
	} else {
		fmt.Fprintf(out, "\n%s: at least one problem; fix the first one first, the later rows often follow from it\n", rep.Service)
	}
}

// oneLine keeps table cells on one line (SDK errors span many).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

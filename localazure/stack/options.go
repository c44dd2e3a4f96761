package stack

import (
	"log/slog"
	"time"
)

// Options configure Start.
type Options struct {
	// ConfigPath is the localazure.json to use; "" = the closest one in the working
	// directory or above (the repository's).
	ConfigPath string
	// StateDir holds the CA, the service-account token files and env files; "" = a
	// temporary directory removed by Close. The launcher keeps it (.localazure/) so
	// that the CA, and with it SSL_CERT_FILE, stays the same across restarts.
	StateDir string
	// DataDir persists Cosmos DB, Service Bus and Blob data there; "" = in memory.
	DataDir string
	// FixedPorts binds the ports of the configuration (the launcher); false binds
	// ephemeral loopback ports (tests, so that they can run in parallel).
	FixedPorts bool
	// PortOffset is added to every fixed port, the stand-ins' and the workloads'
	// listen ports alike (FixedPorts only), so that a second stack or a machine
	// with those ports taken moves everything with one setting.
	PortOffset int
	// ListenOverride, if not nil, returns a listen address the caller sets itself
	// for a workload's listen variable (the launcher: from its own environment);
	// it replaces the declared one as given, unshifted.
	ListenOverride func(variable string) (addr string, ok bool)
	// Blob starts Azurite (installed from npm); false leaves the Blob endpoint empty.
	Blob bool
	// AzuriteDir holds Azurite's package.json and node_modules; "" = localazure/azurite
	// in the configuration's folder, or found by walking up from the working directory.
	AzuriteDir string
	// TokenTTL is the lifetime of the service-account tokens, default 1h as on AKS.
	TokenTTL time.Duration
	// Logger receives the stand-ins' logs; nil = discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

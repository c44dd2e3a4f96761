// Package mlog stands in for monis.app/mlog, the logging facade of the Azure workload
// identity webhook (github.com/Azure/azure-workload-identity/pkg/webhook), so that the
// deploy tests can run the webhook's real mutation code. The Go module proxy refuses
// every version of monis.app/mlog (403), so deploy/go.mod replaces it with this module.
//
// It provides only the API the webhook's pkg/webhook and pkg/config call (New, WithName,
// WithValues, Error, Enabled and the level names) and routes it to log/slog. Logging is
// the only thing it touches: the mutation itself is entirely the webhook's code.
package mlog

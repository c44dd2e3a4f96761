package doctor

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/internal/azerr"
)

// PermissionStatus is what probing one permission observed.
type PermissionStatus string

// The outcomes of a permission probe.
const (
	// Allowed: the read-only probe succeeded, so the identity holds a role that grants it.
	Allowed PermissionStatus = "ok"
	// Denied: the service answered 401/403 (or Service Bus UnauthorizedAccess).
	Denied PermissionStatus = "denied"
	// Failed: the probe could not tell (unreachable, missing entity, unexpected status).
	Failed PermissionStatus = "error"
	// NotProbed: the probe would write (a blob, a scheduled message), which a
	// running service's panel never does; `<service> doctor --write` checks it.
	NotProbed PermissionStatus = "not-probed"
)

// Permission is one data-plane permission a service needs, with what probing it
// showed and the role that grants it. It is what the identity can do as observed,
// not the list of its role assignments: that list is in localazure's access log
// locally and in `az role assignment list --assignee <clientId>` on Azure.
type Permission struct {
	// Check is the doctor's row name, e.g. blob-read:receipts.
	Check string `json:"check"`
	// Scope is where the role is assigned, in localazure.json's scope notation
	// (keyvault, cosmos/dbs/orderflow, storage/receipts, servicebus/orders).
	Scope string `json:"scope"`
	// Role grants the permission; AssignedIn is the Bicep module and parameter.
	Role       string           `json:"role"`
	AssignedIn string           `json:"assignedIn"`
	Status     PermissionStatus `json:"status"`
	// Entra is false when the client authenticates with an emulator key, where no
	// role applies.
	Entra  bool   `json:"entra"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// ReadPermissions runs, with the service's own clients, every probe of the
// service's permissions that changes nothing (Key Vault get, Cosmos DB point read,
// Blob list per container, Service Bus peek), concurrently, each within timeout.
// The write probes are listed as NotProbed with their role. It is the doctor's
// dataPlane without --write, for the services' identity panels.
func ReadPermissions(ctx context.Context, service string, cfg config.Config, clients *azure.Clients, timeout time.Duration) []Permission {
	d := &run{o: Options{Service: service, CheckTimeout: timeout}}
	ps := d.probes(cfg, clients)
	out := make([]Permission, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		out[i] = Permission{Check: p.name, Scope: p.grant.localScope, Role: p.grant.role,
			AssignedIn: p.grant.bicep + " (" + p.grant.param + " in infra/main.bicep)", Entra: p.entra}
		if p.write {
			out[i].Status = NotProbed
			out[i].Detail = "would write; run `" + service + " doctor --write` to check it"
			continue
		}
		wg.Go(func() {
			cctx, cancel := d.ctx(ctx)
			defer cancel()
			detail, err := p.run(cctx)
			if err == nil {
				out[i].Status, out[i].Detail = Allowed, detail
				return
			}
			if p.explain != nil {
				_, out[i].Detail, out[i].Fix = p.explain(err)
			} else {
				_, out[i].Detail, out[i].Fix = d.explainData(err, p)
			}
			out[i].Status = Failed
			if denied(err) {
				out[i].Status = Denied
			}
		})
	}
	wg.Wait()
	return out
}

// denied reports an answer that means "no role grants this" rather than "could not ask".
func denied(err error) bool {
	var sbe *azservicebus.Error
	if errors.As(err, &sbe) && sbe.Code == azservicebus.CodeUnauthorizedAccess {
		return true
	}
	s := azerr.StatusCode(err)
	return s == 401 || s == 403
}

package keyvaultemu

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/contoso/orderflow/localazure/authz"
)

// keyVaultReader is the built-in role that reads metadata but no secret values.
const keyVaultReader = "Key Vault Reader"

// action is a Key Vault data action and the built-in roles that include it.
type action struct {
	name  string
	roles []string
}

var (
	readers = []string{authz.KeyVaultSecretsUser, authz.KeyVaultSecretsOfficer, authz.KeyVaultAdministrator}
	writers = []string{authz.KeyVaultSecretsOfficer, authz.KeyVaultAdministrator}

	actGet      = action{"Microsoft.KeyVault/vaults/secrets/getSecret/action", readers}
	actMetadata = action{"Microsoft.KeyVault/vaults/secrets/readMetadata/action", append([]string{keyVaultReader}, readers...)}
	actSet      = action{"Microsoft.KeyVault/vaults/secrets/setSecret/action", writers}
	actUpdate   = action{"Microsoft.KeyVault/vaults/secrets/update/action", writers}
	actDelete   = action{"Microsoft.KeyVault/vaults/secrets/delete", writers}
	actRecover  = action{"Microsoft.KeyVault/vaults/secrets/recover/action", writers}
	actPurge    = action{"Microsoft.KeyVault/vaults/secrets/purge/action", writers}
)

// authorize checks that the caller holds a role with act at the scope of secret name
// (or at the vault when name is ""). Scopes use the lower-case secret name, since
// Key Vault names are case-insensitive: assign at keyvault/secrets/<lower-case name>.
func (s *Server) authorize(c caller, act action, name string) *kvError {
	scope := "keyvault"
	resource := "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/localazure/providers/microsoft.keyvault/vaults/" + s.name
	if name != "" {
		scope += "/secrets/" + strings.ToLower(name)
		resource += "/secrets/" + name
	}
	if s.opts.Policy != nil && s.opts.Policy.Check(c.ctx, authz.Request{Service: "keyvault", Operation: act.name, Scope: scope, Principal: c.Principal, Roles: act.roles}) {
		return nil
	}
	msg := fmt.Sprintf("Caller is not authorized to perform action on resource.\r\n"+
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
		"Caller: appid=%s;oid=%s;iss=https://sts.windows.net/%s/\r\n"+
		"Action: '%s'\r\n"+
		"Resource: '%s'\r\n"+
		"Assignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: %s;location=local\r\n",
		c.ClientID, c.ObjectID, c.TenantID, act.name, resource, s.name)
	return &kvError{status: http.StatusForbidden, code: "Forbidden", msg: msg, inner: "ForbiddenByRbac"}
}

package authz

import "strings"

// Built-in role names, as Azure spells them. The local configuration names roles by
// these strings; each stand-in decides which roles allow which of its operations.
const (
	KeyVaultSecretsUser    = "Key Vault Secrets User"
	KeyVaultSecretsOfficer = "Key Vault Secrets Officer"
	KeyVaultAdministrator  = "Key Vault Administrator"

	CosmosDataReader      = "Cosmos DB Built-in Data Reader"
	CosmosDataContributor = "Cosmos DB Built-in Data Contributor"

	ServiceBusDataSender   = "Azure Service Bus Data Sender"
	ServiceBusDataReceiver = "Azure Service Bus Data Receiver"
	ServiceBusDataOwner    = "Azure Service Bus Data Owner"

	StorageBlobDataReader      = "Storage Blob Data Reader"
	StorageBlobDataContributor = "Storage Blob Data Contributor"
	StorageBlobDataOwner       = "Storage Blob Data Owner"
)

// Assignment grants Role to the principal with object id PrincipalID at Scope and below.
type Assignment struct {
	PrincipalID string
	Role        string
	Scope       string
}

// Policy answers role checks from a fixed list of assignments, and reports them to
// an access log when it has one. It is immutable and safe for concurrent use.
type Policy struct {
	byPrincipal map[string][]Assignment
	access      *AccessLog // nil: decisions are not recorded
}

// NewPolicy indexes assignments by principal.
func NewPolicy(assignments []Assignment) *Policy {
	p := &Policy{byPrincipal: map[string][]Assignment{}}
	for _, a := range assignments {
		a.Scope = strings.Trim(a.Scope, "/")
		p.byPrincipal[a.PrincipalID] = append(p.byPrincipal[a.PrincipalID], a)
	}
	return p
}

// Allowed reports whether principalID holds any of roles at scope or at a scope above it.
func (p *Policy) Allowed(principalID, scope string, roles ...string) bool {
	_, ok := p.grantingRole(principalID, scope, roles...)
	return ok
}

// grantingRole is Allowed that also names the role that allows it.
func (p *Policy) grantingRole(principalID, scope string, roles ...string) (string, bool) {
	scope = strings.Trim(scope, "/")
	for _, a := range p.byPrincipal[principalID] {
		if !covers(a.Scope, scope) {
			continue
		}
		for _, r := range roles {
			if strings.EqualFold(a.Role, r) {
				return a.Role, true
			}
		}
	}
	return "", false
}

// covers reports whether an assignment at parent applies to child: equal, or child
// lies below parent on a path-segment boundary ("servicebus/orders" does not cover
// "servicebus/orders-archive").
func covers(parent, child string) bool {
	if parent == child {
		return true
	}
	return strings.HasPrefix(child, parent+"/")
}

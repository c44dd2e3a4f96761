package stackconfig

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/servicebusemu"
)

var (
	guidRE        = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	workloadRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) // names the token and env files
	dnsLabelRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubRE      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	ficNameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$`)
	secretNameRE  = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	blobNameRE    = regexp.MustCompile(`^[a-z0-9](-?[a-z0-9])*$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	cosmosIDBadRE = regexp.MustCompile(`[/\\?#]`)
)

const maxFederatedCredentials = 20 // Entra's limit per identity

// roleServices lists, per stand-in, the built-in roles it enforces, in the order the error
// message offers them.
var roleServices = []struct {
	service, scopeRoot string
	roles              []string
}{
	{"Key Vault", "keyvault", []string{authz.KeyVaultSecretsUser, authz.KeyVaultSecretsOfficer, authz.KeyVaultAdministrator}},
	{"Cosmos DB", "cosmos", []string{authz.CosmosDataReader, authz.CosmosDataContributor}},
	{"Service Bus", "servicebus", []string{authz.ServiceBusDataSender, authz.ServiceBusDataReceiver, authz.ServiceBusDataOwner}},
	{"Blob Storage", "storage", []string{authz.StorageBlobDataReader, authz.StorageBlobDataContributor, authz.StorageBlobDataOwner}},
}

// KnownRoles returns every role name the stand-ins enforce.
func KnownRoles() []string {
	var all []string
	for _, s := range roleServices {
		all = append(all, s.roles...)
	}
	return all
}

// stackEnv are the variables the stack itself always sets (the workload identity
// webhook's four and the CA); with the endpointEnv names, a config may not override
// them, since a wrong value there would break the identity flow in confusing ways.
var stackEnv = map[string]bool{
	"AZURE_CLIENT_ID": true, "AZURE_TENANT_ID": true, "AZURE_FEDERATED_TOKEN_FILE": true, "AZURE_AUTHORITY_HOST": true,
	"SSL_CERT_FILE": true,
}

// validateEndpointEnv checks the endpoint variable names and returns every name the
// stack sets.
func validateEndpointEnv(p *problems, f string, e EndpointEnv) map[string]bool {
	reserved := maps.Clone(stackEnv)
	names := e.Names()
	for _, endpoint := range sortedKeys(names) {
		name := names[endpoint]
		switch {
		case !envNameRE.MatchString(name):
			p.add(f+"."+endpoint, "%q is not an environment variable name; use letters, digits and '_'", name)
		case stackEnv[name]:
			p.add(f+"."+endpoint, "%q is set by the stack itself (as the workload identity webhook does in AKS); pick the name your application reads the endpoint from", name)
		case reserved[name]:
			p.add(f+"."+endpoint, "%q already carries another endpoint; give each endpoint its own variable", name)
		}
		reserved[name] = true
	}
	return reserved
}

func validate(p *problems, c *Config) {
	la := &c.LocalAzure
	const root = "LocalAzure"

	if la.TenantID == "" {
		p.add(root+".tenantId", "is required; set it to a GUID (any GUID works locally, e.g. your Azure tenant's id)")
	} else if !guidRE.MatchString(la.TenantID) {
		p.add(root+".tenantId", "%q is not a GUID; set it to a tenant id like 72f988bf-86f1-41af-91ab-2d7cd011db47", la.TenantID)
	}

	byPort := validatePorts(p, la.Ports)

	for i, r := range la.Faults {
		if err := r.Validate(); err != nil {
			p.add(fmt.Sprintf("%s.faults[%d]", root, i), "%v (see localazure/README.md, \"Fault injection\")", err)
		}
	}

	reserved := validateEndpointEnv(p, root+".endpointEnv", la.EndpointEnv)

	validateWorkloads(p, la.Workloads, reserved)
	validateListenRefs(p, root+".env", la.Env, la.Workloads)
	for i, w := range la.Workloads {
		validateListen(p, fmt.Sprintf("%s.workloads[%d]", root, i), w, la.Env, reserved, byPort)
		validateListenRefs(p, fmt.Sprintf("%s.workloads[%d].env", root, i), w.Env, la.Workloads)
	}

	sb := validateUserConfig(p, c.UserConfig)

	dbs := map[string]map[string]bool{}
	for i, db := range la.Cosmos.Databases {
		f := fmt.Sprintf("%s.cosmos.databases[%d]", root, i)
		if msg := cosmosIDProblem(db.ID); msg != "" {
			p.add(f+".id", "%s", msg)
		} else if dbs[db.ID] != nil {
			p.add(f+".id", "database %q is listed twice; merge the two entries", db.ID)
			continue
		}
		colls := map[string]bool{}
		dbs[db.ID] = colls
		for j, ct := range db.Containers {
			cf := fmt.Sprintf("%s.containers[%d]", f, j)
			if msg := cosmosIDProblem(ct.ID); msg != "" {
				p.add(cf+".id", "%s", msg)
			} else if colls[ct.ID] {
				p.add(cf+".id", "container %q is listed twice in database %q; remove one", ct.ID, db.ID)
			}
			colls[ct.ID] = true
			if msg := partitionKeyProblem(ct.PartitionKeyPath); msg != "" {
				p.add(cf+".partitionKeyPath", "%s", msg)
			}
		}
	}

	blobs := map[string]bool{}
	for i, name := range la.Storage.Containers {
		f := fmt.Sprintf("%s.storage.containers[%d]", root, i)
		switch {
		case len(name) < 3 || len(name) > 63 || !blobNameRE.MatchString(name):
			p.add(f, "%q is not a blob container name; use 3 to 63 lowercase letters, digits and single hyphens, starting with a letter or digit", name)
		case blobs[name]:
			p.add(f, "container %q is listed twice; remove one", name)
		}
		blobs[name] = true
	}

	validateSecrets(p, la.KeyVault.Secrets)

	scopes := scopeIndex{cosmos: dbs, blobs: blobs, sb: sb}
	seen := map[string]int{}
	for i, ra := range la.RoleAssignments {
		f := fmt.Sprintf("%s.roleAssignments[%d]", root, i)
		if ra.Principal == "" {
			p.add(f+".principal", "is required; name a workload (%s) or its objectId", quoteList(names(la.Workloads)))
		} else if _, ok := resolvePrincipal(la.Workloads, ra.Principal); !ok {
			p.add(f+".principal", "%q is neither a workload name nor a workload's objectId; use one of: %s%s", ra.Principal, quoteList(names(la.Workloads)), suggest(ra.Principal, names(la.Workloads)))
		}
		svc := serviceOf(ra.Role)
		if svc == nil {
			p.add(f+".role", "%q is not a role the stand-ins know; use one of: %s%s", ra.Role, quoteList(KnownRoles()), suggest(ra.Role, KnownRoles()))
		}
		scope := strings.Trim(ra.Scope, "/")
		if msg := scopes.problem(scope); msg != "" {
			p.add(f+".scope", "%s", msg)
		} else if svc != nil && firstSegment(scope) != svc.scopeRoot {
			p.add(f+".scope", "%q is outside %s, but %q is a %s role; use %q or a scope below it", ra.Scope, svc.service, ra.Role, svc.service, svc.scopeRoot)
		}
		obj, _ := resolvePrincipal(la.Workloads, ra.Principal)
		key := strings.ToLower(obj + "|" + ra.Role + "|" + scope)
		if j, dup := seen[key]; dup && obj != "" {
			p.add(f, "duplicates %s.roleAssignments[%d]; remove one", root, j)
		} else {
			seen[key] = i
		}
	}
	validateEnv(p, root+".env", la.Env, reserved)
}

// validatePorts checks the stand-ins' ports and returns the field using each port,
// so that the workloads' listen ports can be held against them.
func validatePorts(p *problems, ports Ports) map[int]string {
	byPort := map[int]string{}
	for _, x := range ports.fields() {
		f := "LocalAzure.ports." + x.name
		if *x.v < 0 || *x.v > 65535 {
			p.add(f, "%d is not a TCP port; use 1 to 65535, or leave it out for the default %d", *x.v, x.def)
			continue
		}
		v := *x.v
		if v == 0 {
			v = x.def
		}
		if other, dup := byPort[v]; dup {
			p.add(f, "port %d is also %s; give each service its own port", v, other)
		}
		byPort[v] = f
	}
	return byPort
}

// validateListen checks a workload's listen declarations: variable names the stack
// does not set otherwise, ports that no stand-in or other listener uses, and an open
// variable among them.
func validateListen(p *problems, f string, w Workload, shared map[string]string, reserved map[string]bool, byPort map[int]string) {
	for _, v := range sortedKeys(w.Listen) {
		lf := f + ".listen." + v
		port := w.Listen[v]
		switch {
		case !envNameRE.MatchString(v):
			p.add(lf, "is not an environment variable name; use letters, digits and '_'")
		case reserved[v]:
			p.add(lf, "is set by the local stack itself; name the variable your application reads its listen address from")
		case hasKey(shared, v) || hasKey(w.Env, v):
			p.add(lf, "is also set in env; the listen port gives it its value, so remove it from env")
		}
		if port < 1 || port > 65535 {
			p.add(lf, "%d is not a TCP port; use 1 to 65535", port)
			continue
		}
		if other, dup := byPort[port]; dup {
			p.add(lf, "port %d is also %s; give each listener its own port", port, other)
			continue
		}
		byPort[port] = lf
	}
	if _, ok := w.Listen[w.Open]; w.Open != "" && !ok {
		p.add(f+".open", "%q is not one of this workload's listen variables (%s); name one of them, or leave it out", w.Open, quoteList(sortedKeys(w.Listen)))
	}
}

func validateWorkloads(p *problems, ws []Workload, reserved map[string]bool) {
	if len(ws) == 0 {
		p.add("LocalAzure.workloads", "is empty; add one entry per Kubernetes workload that calls Azure")
	}
	seenNames := map[string]bool{}
	clients, objects := map[string]int{}, map[string]int{}
	for i, w := range ws {
		f := fmt.Sprintf("LocalAzure.workloads[%d]", i)
		switch {
		case w.Name == "":
			p.add(f+".name", "is required; use the workload's name, e.g. \"frontend\"")
		case !workloadRE.MatchString(w.Name):
			p.add(f+".name", "%q must be letters, digits, '.', '_' or '-' (it names the token and env files)", w.Name)
		case seenNames[w.Name]:
			p.add(f+".name", "workload %q is listed twice; rename one", w.Name)
		}
		if w.Namespace == "" || len(w.Namespace) > 63 || !dnsLabelRE.MatchString(w.Namespace) {
			p.add(f+".namespace", "%q is not a Kubernetes namespace name; use lowercase letters, digits and '-', e.g. \"orderflow\"", w.Namespace)
		}
		if w.ServiceAccount == "" || len(w.ServiceAccount) > 253 || !dnsSubRE.MatchString(w.ServiceAccount) {
			p.add(f+".serviceAccount", "%q is not a Kubernetes service account name; use lowercase letters, digits, '-' and '.'", w.ServiceAccount)
		}
		for _, id := range []struct {
			field, v string
			seen     map[string]int
		}{{"clientId", w.ClientID, clients}, {"objectId", w.ObjectID, objects}} {
			switch {
			case id.v == "":
				p.add(f+"."+id.field, "is required; set a GUID (any fixed GUID works locally; in Azure it is the managed identity's %s)", id.field)
			case !guidRE.MatchString(id.v):
				p.add(f+"."+id.field, "%q is not a GUID", id.v)
			default:
				if j, dup := id.seen[strings.ToLower(id.v)]; dup {
					p.add(f+"."+id.field, "%s is also the %s of LocalAzure.workloads[%d]; each identity needs its own", id.v, id.field, j)
				}
				id.seen[strings.ToLower(id.v)] = i
			}
		}
		seenNames[w.Name] = true
		if len(w.FederatedCredentials) > maxFederatedCredentials {
			p.add(f+".federatedCredentials", "has %d entries; Entra allows at most %d per identity", len(w.FederatedCredentials), maxFederatedCredentials)
		}
		ficNames := map[string]bool{}
		for j, fc := range w.FederatedCredentials {
			ff := fmt.Sprintf("%s.federatedCredentials[%d]", f, j)
			switch {
			case !ficNameRE.MatchString(fc.Name):
				p.add(ff+".name", "%q is not a federated credential name; use 3 to 120 letters, digits, '-' and '_', starting with a letter or digit", fc.Name)
			case ficNames[strings.ToLower(fc.Name)]:
				p.add(ff+".name", "%q is used twice in this workload; rename one", fc.Name)
			}
			ficNames[strings.ToLower(fc.Name)] = true
			if fc.Issuer != "" {
				if u, err := url.Parse(fc.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
					p.add(ff+".issuer", "%q must be an https URL, or left out for the local cluster issuer", fc.Issuer)
				}
			}
			if len(fc.Audiences) > 1 || (len(fc.Audiences) == 1 && fc.Audiences[0] == "") {
				p.add(ff+".audiences", "Entra stores exactly one audience per federated credential; use [\"api://AzureADTokenExchange\"] or leave it out")
			}
		}
		validateEnv(p, f+".env", w.Env, reserved)
	}
}

func validateEnv(p *problems, f string, env map[string]string, reserved map[string]bool) {
	for _, k := range sortedKeys(env) {
		switch {
		case !envNameRE.MatchString(k):
			p.add(f+"."+k, "is not an environment variable name; use letters, digits and '_'")
		case reserved[k]:
			p.add(f+"."+k, "is set by the local stack itself (as the workload identity webhook or the deployment does in AKS); remove it")
		case strings.ContainsAny(env[k], "\n\r\x00"):
			p.add(f+"."+k, "value must be one line")
		}
	}
}

func validateSecrets(p *problems, secrets []Secret) {
	seen := map[string]int{}
	for i, s := range secrets {
		f := fmt.Sprintf("LocalAzure.keyVault.secrets[%d]", i)
		if !secretNameRE.MatchString(s.Name) {
			p.add(f+".name", "%q is not a Key Vault secret name; use 1 to 127 letters, digits and '-'", s.Name)
		} else if j, dup := seen[strings.ToLower(s.Name)]; dup {
			// Key Vault names are case-insensitive.
			p.add(f+".name", "%q is also LocalAzure.keyVault.secrets[%d] (Key Vault names are case-insensitive); remove one", s.Name, j)
		} else {
			seen[strings.ToLower(s.Name)] = i
		}
		if s.Value == "" {
			p.add(f+".value", "is required; use \"generate:32\" for 32 random bytes made at every start, so that no secret is committed")
		} else if strings.HasPrefix(s.Value, generatePrefix) {
			if _, err := generateSize(s.Value); err != nil {
				p.add(f+".value", "%v", err)
			}
		}
		if len(s.ContentType) > 255 {
			p.add(f+".contentType", "is longer than Key Vault's 255 characters")
		}
		if len(s.Tags) > 15 {
			p.add(f+".tags", "has %d tags; Key Vault allows 15", len(s.Tags))
		}
		for _, k := range sortedKeys(s.Tags) {
			if len(k) > 512 || len(s.Tags[k]) > 256 {
				p.add(f+".tags."+k, "Key Vault allows tag names up to 512 and values up to 256 characters")
			}
		}
		nbf := parseTime(p, f+".notBefore", s.NotBefore)
		exp := parseTime(p, f+".expires", s.Expires)
		if !nbf.IsZero() && !exp.IsZero() && !exp.After(nbf) {
			p.add(f+".expires", "%s is not after notBefore %s", s.Expires, s.NotBefore)
		}
	}
}

func parseTime(p *problems, f, v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.add(f, "%q is not an RFC 3339 time; write it like 2030-01-31T00:00:00Z", v)
	}
	return t
}

func validateUserConfig(p *problems, uc servicebusemu.UserConfig) *servicebusemu.UserConfig {
	if err := uc.Validate(); err != nil {
		p.add("", "%v", err)
	}
	return &uc
}

// scopeIndex knows what the configuration declares, to check that scopes name it.
type scopeIndex struct {
	cosmos map[string]map[string]bool
	blobs  map[string]bool
	sb     *servicebusemu.UserConfig
}

func (x scopeIndex) problem(scope string) string {
	if scope == "" {
		return "is required; use keyvault, cosmos[/dbs/<db>[/colls/<container>]], servicebus[/<queue-or-topic>[/subscriptions/<subscription>]] or storage[/<container>]"
	}
	seg := strings.Split(scope, "/")
	for _, s := range seg {
		if s == "" {
			return fmt.Sprintf("%q has an empty path segment; write it like cosmos/dbs/orderflow", scope)
		}
	}
	switch seg[0] {
	case "keyvault":
		switch {
		case len(seg) == 1, len(seg) == 2 && seg[1] == "secrets":
			return ""
		case len(seg) == 3 && seg[1] == "secrets" && secretNameRE.MatchString(seg[2]):
			return ""
		}
		return fmt.Sprintf("%q is not a Key Vault scope; use keyvault or keyvault/secrets/<name>", scope)
	case "cosmos":
		if len(seg) == 1 {
			return ""
		}
		if seg[1] != "dbs" || len(seg) == 2 || (len(seg) > 3 && (seg[3] != "colls" || len(seg) != 5)) {
			return fmt.Sprintf("%q is not a Cosmos DB scope; use cosmos, cosmos/dbs/<db> or cosmos/dbs/<db>/colls/<container>", scope)
		}
		colls, ok := x.cosmos[seg[2]]
		if !ok {
			return fmt.Sprintf("%q names database %q, which LocalAzure.cosmos.databases does not declare; declare it or use one of: %s", scope, seg[2], quoteList(sortedKeys(x.cosmos)))
		}
		if len(seg) == 5 && !colls[seg[4]] {
			return fmt.Sprintf("%q names container %q, which database %q does not declare; declare it or use one of: %s", scope, seg[4], seg[2], quoteList(sortedKeys(colls)))
		}
		return ""
	case "storage":
		if len(seg) == 1 {
			return ""
		}
		if len(seg) != 2 {
			return fmt.Sprintf("%q is not a Blob Storage scope; use storage or storage/<container>", scope)
		}
		if !x.blobs[seg[1]] {
			return fmt.Sprintf("%q names blob container %q, which LocalAzure.storage.containers does not declare; declare it or use one of: %s", scope, seg[1], quoteList(sortedKeys(x.blobs)))
		}
		return ""
	case "servicebus":
		if len(seg) == 1 {
			return ""
		}
		queues, topics := map[string]bool{}, map[string]map[string]bool{}
		for _, ns := range x.sb.Namespaces {
			for _, q := range ns.Queues {
				queues[q.Name] = true
			}
			for _, t := range ns.Topics {
				subs := map[string]bool{}
				for _, s := range t.Subscriptions {
					subs[s.Name] = true
				}
				topics[t.Name] = subs
			}
		}
		if len(seg) != 2 && (len(seg) != 4 || seg[2] != "subscriptions") {
			return fmt.Sprintf("%q is not a Service Bus scope; use servicebus, servicebus/<queue-or-topic> or servicebus/<topic>/subscriptions/<subscription>", scope)
		}
		// Service Bus entity names are case-insensitive.
		entity := strings.ToLower(seg[1])
		var all []string
		found := false
		for q := range queues {
			all = append(all, q)
			found = found || strings.ToLower(q) == entity
		}
		var subs map[string]bool
		for t, s := range topics {
			all = append(all, t)
			if strings.ToLower(t) == entity {
				found, subs = true, s
			}
		}
		if !found {
			return fmt.Sprintf("%q names entity %q, which UserConfig.Namespaces[0] declares neither as a queue nor as a topic; declare it or use one of: %s", scope, seg[1], quoteList(sortedSet(all)))
		}
		if len(seg) == 4 {
			if subs == nil {
				return fmt.Sprintf("%q names subscriptions of %q, which is a queue; only topics have subscriptions", scope, seg[1])
			}
			ok := false
			for s := range subs {
				ok = ok || strings.EqualFold(s, seg[3])
			}
			if !ok {
				return fmt.Sprintf("%q names subscription %q, which topic %q does not declare; use one of: %s", scope, seg[3], seg[1], quoteList(sortedKeys(subs)))
			}
		}
		return ""
	}
	return fmt.Sprintf("%q does not start with a stand-in; use keyvault, cosmos, servicebus or storage", scope)
}

func serviceOf(role string) *struct {
	service, scopeRoot string
	roles              []string
} {
	for i := range roleServices {
		for _, r := range roleServices[i].roles {
			if r == role {
				return &roleServices[i]
			}
		}
	}
	return nil
}

func cosmosIDProblem(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > 255:
		return "is longer than Cosmos DB's 255 characters"
	case cosmosIDBadRE.MatchString(id), strings.HasSuffix(id, " "):
		return fmt.Sprintf("%q may not contain '/', '\\', '?' or '#' or end with a space (Cosmos DB's rule)", id)
	}
	return ""
}

func partitionKeyProblem(path string) string {
	if path == "" {
		return "is required; name the property documents are partitioned by, e.g. \"/customerId\""
	}
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "//") {
		return fmt.Sprintf("%q is not a partition key path; write it like \"/customerId\"", path)
	}
	return ""
}

func firstSegment(scope string) string {
	s, _, _ := strings.Cut(scope, "/")
	return s
}

func names(ws []Workload) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func quoteList(xs []string) string {
	if len(xs) == 0 {
		return "(none declared)"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

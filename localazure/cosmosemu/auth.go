package cosmosemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// authResult records who is calling.
type authResult struct {
	master    bool
	principal authz.Principal
}

// maxClockSkew is how far x-ms-date may be from the server's clock: Cosmos rejects
// tokens older (or further in the future) than 15 minutes.
const maxClockSkew = 15 * time.Minute

// Substatus codes Cosmos sends with Entra/RBAC refusals.
const (
	subControlPlaneViaAAD = 5300
	subRBACDenied         = 5301
)

func newMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }

// authenticate checks the Authorization header: a master-key signature or an Entra
// access token; RBAC for tokens is checked right here as well, since the action
// follows from the method, the path and a few headers.
func (s *Server) authenticate(q *request) *apiError {
	raw := q.r.Header.Get("Authorization")
	if raw == "" {
		return &apiError{status: 401, message: "Required Header authorization is missing. Ensure a valid Authorization token is passed."}
	}
	if strings.IndexByte(raw, '%') >= 0 {
		u, err := url.QueryUnescape(raw)
		if err != nil {
			return &apiError{status: 401, message: "The authorization header is not URL-encoded correctly."}
		}
		raw = u
	}
	typ, sig := parseAuthHeader(raw)
	date := q.r.Header.Get("x-ms-date")
	if date == "" {
		date = q.r.Header.Get("Date")
	}
	if date != "" {
		if e := s.checkDate(date); e != nil {
			return e
		}
	}
	switch strings.ToLower(typ) {
	case "master":
		if date == "" {
			return &apiError{status: 401, message: "The input authorization token can't serve the request. The request is missing the x-ms-date header."}
		}
		if !s.verifyMaster(q, date, sig, q.resLink) && !s.verifyMaster(q, date, sig, ridLink(q.segs)) {
			return &apiError{status: 401, message: fmt.Sprintf("The input authorization token can't serve the request. "+
				"The wrong key is being used or the expected payload is not built as per the protocol. "+
				"For more info: https://aka.ms/cosmosdb-tsg-mac-token. Server used the following payload to sign: '%s'",
				s.stringToSign(q, date))}
		}
		q.auth.master = true
		return nil
	case "aad":
		if s.opts.Verifier == nil {
			return &apiError{status: 401, message: "Microsoft Entra ID (AAD) authentication is not configured on this account."}
		}
		p, err := s.opts.Verifier.Verify(sig, s.audiences(q.r)...)
		if err != nil {
			msg := "Request blocked by Auth " + s.opts.AccountName + " : The AAD token could not be validated: " + err.Error()
			if errors.Is(err, authz.ErrExpired) {
				msg = "Request blocked by Auth " + s.opts.AccountName + " : The AAD token has expired. " + err.Error()
			}
			return &apiError{status: 401, message: msg}
		}
		q.auth.principal = p
		return s.authorize(q)
	case "resource":
		return &apiError{status: 401, message: "Resource tokens are not supported by the local Cosmos DB stand-in; use the master key or an Entra token."}
	}
	return &apiError{status: 401, message: "The input authorization token can't serve the request. The authorization type '" + typ + "' is not supported."}
}

// parseAuthHeader splits "type=..&ver=..&sig=.."; the signature is everything after
// "sig=" because a JWT could in principle be followed by nothing else.
func parseAuthHeader(h string) (typ, sig string) {
	for h != "" {
		var part string
		if strings.HasPrefix(h, "sig=") {
			return typ, h[4:]
		}
		part, h, _ = strings.Cut(h, "&")
		if k, v, ok := strings.Cut(part, "="); ok && k == "type" {
			typ = v
		}
	}
	return typ, ""
}

func (s *Server) checkDate(date string) *apiError {
	t, err := http.ParseTime(date)
	if err != nil {
		return &apiError{status: 401, message: "The input authorization token can't serve the request. The x-ms-date header '" + date + "' is not a valid RFC 1123 date."}
	}
	now := s.now()
	if now.Sub(t) > maxClockSkew || t.Sub(now) > maxClockSkew {
		f := "Mon, 02 Jan 2006 15:04:05 GMT"
		return &apiError{status: 403, message: fmt.Sprintf("The authorization token is not valid at the current time. "+
			"Please create another token and retry (token start time: %s, token expiry time: %s, current server time: %s).",
			t.UTC().Format(f), t.Add(maxClockSkew).UTC().Format(f), now.UTC().Format(f))}
	}
	return nil
}

// stringToSign is the documented payload: verb, resource type, resource link, date,
// and an empty line, each lower-cased except the link.
func (s *Server) stringToSign(q *request, date string) string {
	return s.stringToSignFor(q, date, q.resLink)
}

func (s *Server) stringToSignFor(q *request, date, link string) string {
	return strings.ToLower(q.r.Method) + "\n" + strings.ToLower(q.resType) + "\n" + link + "\n" + strings.ToLower(date) + "\n\n"
}

// ridLink is the resource link of a request addressed by resource ids
// (dbs/{dbRid}/colls/{collRid}/...): SDKs sign the rid of the addressed resource,
// or of the feed's parent, lower-cased.
func ridLink(segs []string) string {
	n := len(segs)
	switch {
	case n < 2:
		return ""
	case n%2 == 0:
		return strings.ToLower(segs[n-1])
	default:
		return strings.ToLower(segs[n-2])
	}
}

func (s *Server) verifyMaster(q *request, date, sig, link string) bool {
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	m := s.macPool.Get().(hash.Hash)
	m.Reset()
	_, _ = m.Write([]byte(s.stringToSignFor(q, date, link)))
	var buf [sha256.Size]byte
	got := m.Sum(buf[:0])
	s.macPool.Put(m)
	return hmac.Equal(got, want)
}

// audiences accepted for Entra tokens: SDKs ask for "<scheme>://<account host>/.default",
// the Go SDK with the port dropped and the JavaScript SDK with the endpoint's port
// kept, so the request's host with and without its port, the configured endpoint's
// host, the local names and the public Cosmos audience are all valid.
func (s *Server) audiences(r *http.Request) []string {
	host := r.Host
	auds := make([]string, 0, 6+len(s.audExtra))
	if h, _, err := net.SplitHostPort(host); err == nil {
		auds = append(auds, "https://"+host) // host:port as the request named it
		host = h
	}
	auds = append(auds, "https://"+host, "https://localhost", "https://127.0.0.1", "https://cosmos.azure.com")
	return append(auds, s.audExtra...)
}

// action is a data-plane RBAC action, and whether the reader role covers it.
type action struct {
	name     string
	readOnly bool
}

const rbacPrefix = "Microsoft.DocumentDB/databaseAccounts/"

// authorize applies data-plane RBAC to an Entra principal.
func (s *Server) authorize(q *request) *apiError {
	segs, m, h := q.segs, q.r.Method, q.r.Header
	n := len(segs)
	var act action
	scope := "cosmos"
	if n >= 2 && segs[0] == "dbs" {
		// Role assignments name databases and containers; requests may use rids.
		dbName, collName := segs[1], ""
		if n >= 4 {
			collName = segs[3]
		}
		if d := s.database(dbName); d != nil {
			dbName = d.id
			if c := d.collection(collName); n >= 4 && c != nil {
				collName = c.id
			}
		}
		scope = "cosmos/dbs/" + dbName
		if n >= 4 {
			scope += "/colls/" + collName
		}
	}
	isQuery := strings.EqualFold(h.Get("x-ms-documentdb-isquery"), "true") ||
		strings.HasPrefix(h.Get("Content-Type"), "application/query+json") ||
		strings.EqualFold(h.Get("x-ms-cosmos-is-query-plan-request"), "true")
	switch {
	case n == 0 && (m == http.MethodGet || m == http.MethodHead):
		// The account document is how every SDK bootstraps; Cosmos serves it to any
		// valid token, so a role scoped to one database still works.
		return nil
	case n <= 4 || n >= 5 && segs[4] == "pkranges":
		if m == http.MethodGet || m == http.MethodHead || m == http.MethodPost && isQuery {
			act = action{"readMetadata", true}
			break
		}
		// Databases and containers are managed through Azure Resource Manager, never
		// with a data-plane token.
		return &apiError{status: 403, substatus: subControlPlaneViaAAD, message: fmt.Sprintf(
			"Request blocked by Auth %s : The given request [%s /%s] cannot be authorized by AAD token in data plane. Learn more: https://aka.ms/cosmos-native-rbac.",
			s.opts.AccountName, m, strings.Join(segs, "/"))}
	case n == 5: // docs feed
		switch {
		case m == http.MethodGet:
			act = action{"sqlDatabases/containers/readChangeFeed", true}
		case isQuery:
			act = action{"sqlDatabases/containers/executeQuery", true}
		case strings.EqualFold(h.Get("x-ms-cosmos-is-batch-request"), "true"):
			// A batch needs each operation's permission; batch() checks the writes
			// once it has read the body, so a reader may run an all-read batch.
			act = action{"sqlDatabases/containers/items/read", true}
		case strings.EqualFold(h.Get("x-ms-documentdb-is-upsert"), "true"):
			act = action{"sqlDatabases/containers/items/upsert", false}
		default:
			act = action{"sqlDatabases/containers/items/create", false}
		}
	default:
		switch m {
		case http.MethodGet, http.MethodHead:
			act = action{"sqlDatabases/containers/items/read", true}
		case http.MethodDelete:
			act = action{"sqlDatabases/containers/items/delete", false}
		default:
			act = action{"sqlDatabases/containers/items/replace", false}
		}
	}
	roles := []string{authz.CosmosDataContributor}
	if act.readOnly {
		roles = append(roles, authz.CosmosDataReader)
	}
	if s.opts.Policy != nil && s.opts.Policy.Check(q.r.Context(), authz.Request{Service: "cosmos", Operation: rbacPrefix + act.name, Scope: scope, Principal: q.auth.principal, Roles: roles}) {
		return nil
	}
	res := "/" + strings.Join(segs, "/")
	return &apiError{status: 403, substatus: subRBACDenied, message: fmt.Sprintf(
		"Request blocked by Auth %s : Request is blocked because principal [%s] does not have required RBAC permissions to perform action [%s%s] on resource [%s]. Learn more: https://aka.ms/cosmos-native-rbac.",
		s.opts.AccountName, q.auth.principal.ObjectID, rbacPrefix, act.name, res)}
}

// requireWrite checks, for an Entra principal, the Data Contributor role that a
// write inside a request needs (the master key may do anything).
func (s *Server) requireWrite(q *request, c *collection, op string) *apiError {
	if q.auth.master {
		return nil
	}
	scope := "cosmos/dbs/" + c.db.id + "/colls/" + c.id
	if s.opts.Policy != nil && s.opts.Policy.Check(q.r.Context(), authz.Request{Service: "cosmos", Operation: rbacPrefix + "sqlDatabases/containers/items/" + op, Scope: scope, Principal: q.auth.principal, Roles: []string{authz.CosmosDataContributor}}) {
		return nil
	}
	return &apiError{status: 403, substatus: subRBACDenied, message: fmt.Sprintf(
		"Request blocked by Auth %s : Request is blocked because principal [%s] does not have required RBAC permissions to perform action [%ssqlDatabases/containers/items/%s] on resource [/dbs/%s/colls/%s]. Learn more: https://aka.ms/cosmos-native-rbac.",
		s.opts.AccountName, q.auth.principal.ObjectID, rbacPrefix, op, c.db.id, c.id)}
}

package doctor

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/contoso/orderflow/platform/config"
)

// ExchangeAudience is the one audience Entra accepts on a federated assertion.
const ExchangeAudience = "api://AzureADTokenExchange"

// claims are the parts of a Kubernetes service-account token the doctor reads.
type claims struct {
	Iss string    `json:"iss"`
	Sub string    `json:"sub"`
	Aud audiences `json:"aud"`
	Exp int64     `json:"exp"`
	Nbf int64     `json:"nbf"`
	K8s struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// audiences accepts aud as a string or an array, as JWT allows both.
type audiences []string

// UnmarshalJSON implements json.Unmarshaler.
func (a *audiences) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audiences{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// tokenInfo is what the exchange check needs from the token-file check.
type tokenInfo struct {
	claims claims
	read   bool // the file was read and decoded
	broken bool // the exchange cannot succeed: say so rather than ask Entra
}

// decodeClaims decodes the payload of a compact JWT. Only the payload is read: the
// signature is Entra's to verify, and neither it nor the token is ever printed.
func decodeClaims(token string) (claims, error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return claims{}, fmt.Errorf("not a JWT (%d dot-separated parts, want 3)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}, fmt.Errorf("JWT payload is not base64url: %v", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, fmt.Errorf("JWT payload is not JSON claims: %v", err)
	}
	return c, nil
}

// tokenFile checks the projected service-account token: readable, a JWT, within its
// lifetime, for the exchange audience, and naming the service account it should.
func (d *run) tokenFile() tokenInfo {
	path := d.env(config.EnvFederatedTokenFile)
	row := Row{Name: "token-file"}
	var info tokenInfo
	defer func() { d.add(row) }()
	if path == "" {
		row.Status, row.Detail = Skipped, "AZURE_FEDERATED_TOKEN_FILE is not set (see webhook-variables)"
		return info
	}
	b, err := os.ReadFile(path)
	if err != nil {
		info.broken = true
		row.Status, row.Detail = Problem, fmt.Sprintf("cannot read %s: %v", path, err)
		row.Fix = "the webhook projects the token into the volume azure-identity-token at this path; check the pod has it " +
			"(kubectl get pod <pod> -o yaml | grep -A3 azure-identity-token) and that the container's user may read it (fsGroup); " +
			"locally, `localazure up` writes the file: is it running, and is the env file from this run?"
		return info
	}
	c, err := decodeClaims(string(b))
	if err != nil {
		info.broken = true
		row.Status, row.Detail = Problem, fmt.Sprintf("%s: %v", path, err)
		row.Fix = "the file must hold the projected service-account token exactly as kubelet writes it; do not copy or edit it"
		return info
	}
	info.claims, info.read = c, true

	now := d.o.Now()
	exp := time.Unix(c.Exp, 0)
	row.Detail = fmt.Sprintf("%s: iss=%s sub=%s aud=%s exp=%s", path, c.Iss, c.Sub, strings.Join(c.Aud, ","), exp.UTC().Format(time.RFC3339))
	var problems, fixes, notes []string
	switch {
	case c.Exp == 0:
		problems = append(problems, "the token has no exp claim")
		fixes = append(fixes, "use the token kubelet projects (it always has exp)")
	case !exp.After(now):
		problems = append(problems, fmt.Sprintf("expired %s ago", now.Sub(exp).Round(time.Second)))
		fixes = append(fixes, "kubelet rewrites the projected token well before it expires; an expired file means it is a stale copy, "+
			"the node's clock is wrong, or kubelet cannot reach the API server; restart the pod; locally, restart `localazure up` (it rewrites the files at 80% of their lifetime)")
	default:
		notes = append(notes, fmt.Sprintf("valid for %s", exp.Sub(now).Round(time.Second)))
	}
	// Entra allows five minutes of clock skew, as the local stand-in does.
	if c.Nbf != 0 && time.Unix(c.Nbf, 0).After(now.Add(5*time.Minute)) {
		problems = append(problems, "not valid before "+time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339))
		fixes = append(fixes, "this machine's clock or the cluster's is wrong; check NTP on the node")
	}
	if !slices.Contains(c.Aud, ExchangeAudience) {
		problems = append(problems, fmt.Sprintf("aud is %q, not %s", strings.Join(c.Aud, ","), ExchangeAudience))
		fixes = append(fixes, "the webhook projects the token with audience "+ExchangeAudience+"; a hand-written serviceAccountToken volume must use the same audience, "+
			"and so must the federated credential (audiences in infra/modules/identity.bicep)")
	}

	// The subject is what the federated credential must match; check it is
	// consistent with the token's own Kubernetes claims and with POD_NAMESPACE, and
	// say which of them it was compared with.
	ns, sa := c.K8s.Namespace, c.K8s.ServiceAccount.Name
	if want := "system:serviceaccount:" + ns + ":" + sa; ns != "" && sa != "" {
		if c.Sub != want {
			problems = append(problems, fmt.Sprintf("sub %q differs from %q (from the token's kubernetes.io claims)", c.Sub, want))
			fixes = append(fixes, "the file is not a Kubernetes service-account token; use the one the webhook projects")
		} else {
			notes = append(notes, "sub matches the token's kubernetes.io namespace and service account")
		}
	} else if !strings.HasPrefix(c.Sub, "system:serviceaccount:") {
		problems = append(problems, fmt.Sprintf("sub %q is not system:serviceaccount:<namespace>:<serviceaccount>", c.Sub))
		fixes = append(fixes, "use the service-account token the webhook projects")
	}
	if podNS := d.env("POD_NAMESPACE"); podNS != "" {
		if tokNS := subjectPart(c.Sub, 2); tokNS != podNS {
			problems = append(problems, fmt.Sprintf("sub names namespace %q but POD_NAMESPACE is %q", tokNS, podNS))
			fixes = append(fixes, "the token belongs to another pod's service account; mount this pod's own projected token")
		} else {
			notes = append(notes, "namespace matches POD_NAMESPACE")
		}
	}
	// deploy/base names each service account after its service; an overlay may rename
	// it, so a difference is only a note, and the exchange row decides.
	if got := subjectPart(c.Sub, 3); got != "" && got != d.o.Service {
		notes = append(notes, fmt.Sprintf("service account %q is not deploy/base's %q; the federated credential must name %q", got, d.o.Service, c.Sub))
	}

	if len(problems) > 0 {
		info.broken = true
		row.Status = Problem
		row.Detail += ": " + strings.Join(problems, "; ")
		row.Fix = strings.Join(fixes, "; ")
		return info
	}
	row.Status = OK
	row.Detail += " (" + strings.Join(notes, "; ") + ")"
	return info
}

// subjectPart returns field i (2 = namespace, 3 = service account) of a
// system:serviceaccount:<namespace>:<name> subject, or "".
func subjectPart(sub string, i int) string {
	f := strings.Split(sub, ":")
	if len(f) != 4 || f[0] != "system" || f[1] != "serviceaccount" {
		return ""
	}
	return f[i]
}

package entraemu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// serviceAccountClaims are the claims of a projected service-account token as the
// Kubernetes API server issues them for the AKS workload identity webhook.
type serviceAccountClaims struct {
	Audience   []string  `json:"aud"`
	Expires    int64     `json:"exp"`
	IssuedAt   int64     `json:"iat"`
	Issuer     string    `json:"iss"`
	JTI        string    `json:"jti"`
	Kubernetes k8sClaims `json:"kubernetes.io"`
	NotBefore  int64     `json:"nbf"`
	Subject    string    `json:"sub"`
}

type k8sClaims struct {
	Namespace      string  `json:"namespace"`
	Node           *k8sRef `json:"node,omitempty"`
	Pod            *k8sRef `json:"pod,omitempty"`
	ServiceAccount k8sRef  `json:"serviceaccount"`
}

type k8sRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// ServiceAccountToken mints a service-account token for namespace/serviceAccount with
// audience api://AzureADTokenExchange, valid for ttl (a negative ttl gives a token that
// expired -ttl ago). The service account need not belong to a configured workload.
func (s *Server) ServiceAccountToken(namespace, serviceAccount string, ttl time.Duration) (string, error) {
	return s.mintServiceAccountToken(namespace, serviceAccount, "", ttl)
}

func (s *Server) mintServiceAccountToken(namespace, serviceAccount, pod string, ttl time.Duration) (string, error) {
	if namespace == "" || serviceAccount == "" {
		return "", fmt.Errorf("entra: service-account token needs a namespace and a service account")
	}
	now := s.now()
	iat := now
	if ttl <= 0 { // an already expired token was issued before it expired
		iat = now.Add(ttl).Add(-time.Hour)
	}
	claims := serviceAccountClaims{
		Audience: []string{TokenExchangeAudience},
		Expires:  now.Add(ttl).Unix(),
		IssuedAt: iat.Unix(),
		Issuer:   s.issuer,
		JTI:      newUUID(),
		Kubernetes: k8sClaims{
			Namespace:      namespace,
			ServiceAccount: k8sRef{Name: serviceAccount, UID: stableUUID("sa/" + namespace + "/" + serviceAccount)},
		},
		NotBefore: iat.Unix(),
		Subject:   "system:serviceaccount:" + namespace + ":" + serviceAccount,
	}
	if pod != "" {
		claims.Kubernetes.Pod = &k8sRef{Name: pod, UID: stableUUID("pod/" + namespace + "/" + pod)}
		claims.Kubernetes.Node = &k8sRef{Name: "localazure", UID: stableUUID("node/localazure")}
	}
	tok, err := authz.SignRS256(s.saKey.priv, s.saKey.kid, claims)
	if err != nil {
		return "", fmt.Errorf("entra: sign service-account token: %w", err)
	}
	return tok, nil
}

// issuerDiscovery serves the cluster issuer's discovery document, shaped like the one
// the Kubernetes API server (and the AKS OIDC issuer) publishes.
func (s *Server) issuerDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer,
		"jwks_uri":                              s.issuer + "/openid/v1/jwks",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	}, "public, max-age=3600")
}

func (s *Server) issuerJWKS(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jwks{Keys: []jwk{s.saKey.jwk(false, "")}}, "public, max-age=3600")
}

// stableUUID derives a UUID-shaped id from name, so that a service account keeps its
// uid across token rotations as it does in a cluster.
func stableUUID(name string) string {
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

package telemetry

import (
	"regexp"
	"strings"
)

// Redacted replaces a secret in logs.
const Redacted = "[REDACTED]"

// sensitiveKeyWords mark attribute keys whose values are secrets whatever they look like.
var sensitiveKeyWords = []string{"token", "password", "passwd", "secret", "authorization", "connection_string", "connectionstring", "conn_str", "signature", "apikey", "api_key", "accountkey", "account_key", "sas", "credential", "cookie"}

// sensitiveKey reports whether an attribute key names a secret. "key" alone counts (a
// signing key), but keys merely containing it (key_version, keyvault_url) do not.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	if k == "key" || strings.HasSuffix(k, "_key") || strings.HasSuffix(k, ".key") || strings.HasSuffix(k, "-key") {
		return true
	}
	for _, w := range sensitiveKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// secretPatterns find secrets inside free text. Each keeps its prefix (group 1) so the
// log still says what was there.
var secretPatterns = []*regexp.Regexp{
	// JWTs (Entra access tokens, service-account tokens): header.payload.signature.
	regexp.MustCompile(`()eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`),
	// Authorization header values.
	regexp.MustCompile(`(?i)((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`(?i)(type=(?:master|aad|resource)&ver=[0-9.]+&sig=)[^\s&"',;]+`),
	// Connection-string and SAS parts: AccountKey=…, SharedAccessKey=…, sig=….
	regexp.MustCompile(`(?i)((?:AccountKey|SharedAccessKey|SharedAccessSignature|AccessKey|Password|client_secret|client_assertion|access_token|refresh_token)\s*[=:]\s*"?)[^\s;&"',]+`),
	regexp.MustCompile(`(?i)([?&;]sig=)[^\s&"',;]+`),
	regexp.MustCompile(`(?i)(SharedAccessSignature\s+)\S+`),
}

// Redact masks tokens, keys and connection-string secrets inside s.
func Redact(s string) string {
	// Every pattern needs a '.', '=', ':' or white space; most values (ids, trace
	// ids, UUIDs, numbers, names) have none, and skipping the six regular
	// expressions for them halves the cost of a log line.
	if !strings.ContainsAny(s, ".=: \t\n\r\f\v") {
		return s
	}
	for _, re := range secretPatterns {
		if re.MatchString(s) {
			s = re.ReplaceAllString(s, "${1}"+Redacted)
		}
	}
	return s
}

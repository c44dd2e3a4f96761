package keyvaultemu

// apiVersions are the published Key Vault data-plane api-versions the service accepts
// for secrets, so that older SDKs in any language work too.
var apiVersions = map[string]bool{
	"2015-06-01": true, "2016-10-01": true,
	"7.0": true, "7.1": true, "7.2": true, "7.3": true, "7.4": true, "7.5": true, "7.6": true,
	"7.0-preview": true, "7.1-preview": true, "7.2-preview": true, "7.3-preview": true,
	"7.4-preview.1": true, "7.5-preview.1": true, "7.6-preview.1": true, "7.6-preview.2": true,
	"2025-06-01-preview": true, "2025-07-01": true, "2026-04-01": true,
}

// latestAPIVersion is what the error for an unknown version recommends (azsecrets v1.5.1's).
const latestAPIVersion = "2026-04-01"

func checkAPIVersion(v string) *kvError {
	switch {
	case v == "":
		return badParameter("The api-version query parameter is missing. Consider using the latest supported version (%s).", latestAPIVersion)
	case !apiVersions[v]:
		return badParameter("The specified version (%s) is not recognized. Consider using the latest supported version (%s).", v, latestAPIVersion)
	}
	return nil
}

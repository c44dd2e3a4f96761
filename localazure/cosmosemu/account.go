package cosmosemu

import (
	"encoding/json"
	"net/http"
)

// queryEngineConfiguration is what the account advertises to SDKs that plan queries
// locally (.NET on Windows); it matches the limits and features this stand-in has.
const queryEngineConfiguration = `{"maxSqlQueryInputLength":262144,"maxJoinsPerSqlQuery":5,"maxLogicalAndPerSqlQuery":500,` +
	`"maxLogicalOrPerSqlQuery":500,"maxUdfRefPerSqlQuery":10,"maxInExpressionItemsCount":16000,` +
	`"queryMaxInMemorySortDocumentCount":500,"maxQueryRequestTimeoutFraction":0.9,"sqlAllowNonFiniteNumbers":false,` +
	`"sqlAllowAggregateFunctions":true,"sqlAllowSubQuery":false,"sqlAllowScalarSubQuery":false,"allowNewKeywords":true,` +
	`"sqlAllowLike":true,"sqlAllowGroupByClause":true,"maxSpatialQueryCells":12,"spatialMaxGeometryPointCount":256,` +
	`"sqlDisableQueryILOptimization":false,"sqlDisableFilterPlanOptimization":false}`

// regionName is the single region the account reports, as the official emulator does.
const regionName = "South Central US"

// handleAccount serves GET / : the database account, whose locations point back at
// this server (every SDK routes later requests to them).
func (s *Server) handleAccount(q *request) *apiError {
	if q.r.Method != http.MethodGet && q.r.Method != http.MethodHead {
		return errMethod(q.r.Method)
	}
	base := s.baseURL(q.r)
	loc := []map[string]any{{"name": regionName, "databaseAccountEndpoint": base}}
	doc := map[string]any{
		"_self": "", "id": s.opts.AccountName, "_rid": s.opts.AccountName,
		"media": "//media/", "addresses": "//addresses/", "_dbs": "//dbs/",
		"writableLocations":              loc,
		"readableLocations":              loc,
		"enableMultipleWriteLocations":   false,
		"continuousBackupEnabled":        false,
		"enableNRegionSynchronousCommit": false,
		"userReplicationPolicy":          map[string]any{"asyncReplication": false, "minReplicaSetSize": 1, "maxReplicasetSize": 4},
		"userConsistencyPolicy":          map[string]any{"defaultConsistencyLevel": "Session"},
		"systemReplicationPolicy":        map[string]any{"minReplicaSetSize": 1, "maxReplicasetSize": 4},
		"readPolicy":                     map[string]any{"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
		"queryEngineConfiguration":       queryEngineConfiguration,
	}
	body, _ := json.Marshal(doc)
	h := q.w.Header()
	h["x-ms-max-media-storage-usage-mb"] = []string{"10240"}
	h["x-ms-media-storage-usage-mb"] = []string{"0"}
	h["x-ms-databaseaccount-consumed-mb"] = []string{"0"}
	h["x-ms-databaseaccount-reserved-mb"] = []string{"0"}
	h["x-ms-databaseaccount-provisioned-mb"] = []string{"0"}
	s.writeJSON(q, http.StatusOK, "0", body)
	return nil
}

package interop_test

import (
	"encoding/json"
	"slices"
	"testing"
)

type cosmosReport struct {
	Run                                                                   string
	Create, Read, ReadMissing, Upsert, ReplaceEtag, Seed                  json.RawMessage
	QueryParams, Paging, CrossPartition, Patch, Batch, BatchFails, Delete json.RawMessage
}

func TestCosmosKey(t *testing.T) {
	requireNode(t)
	var got cosmosReport
	runNode(t, "cosmos.mjs", "backend", map[string]string{"COSMOS_KEY": st.Endpoints().CosmosKey}, &got, "key")
	checkCosmos(t, got)
}

func TestCosmosAAD(t *testing.T) {
	requireNode(t)
	var got cosmosReport
	runNode(t, "cosmos.mjs", "frontend", nil, &got, "aad")
	checkCosmos(t, got)
}

func checkCosmos(t *testing.T, got cosmosReport) {
	t.Helper()
	var create struct {
		StatusCode int
		Etag       bool
		ID, Ts     string
	}
	if decode(t, "create", got.Create, &create) && (create.StatusCode != 201 || !create.Etag || create.ID != "o1" || create.Ts != "number") {
		t.Errorf("create: %+v", create)
	}
	var read struct{ StatusCode, Total int }
	if decode(t, "read", got.Read, &read) && (read.StatusCode != 200 || read.Total != 10) {
		t.Errorf("read: %+v", read)
	}
	var missing struct {
		StatusCode int
		Resource   any
	}
	if decode(t, "read missing", got.ReadMissing, &missing) && (missing.StatusCode != 404 || missing.Resource != nil) {
		t.Errorf("read of a missing item: %+v, want 404", missing)
	}
	var upsert struct{ First, Second, Total int }
	if decode(t, "upsert", got.Upsert, &upsert) && (upsert.First != 201 || upsert.Second != 200 || upsert.Total != 25) {
		t.Errorf("upsert: %+v, want 201 then 200", upsert)
	}
	var replace struct {
		OK            int
		Status, Stale any
	}
	if decode(t, "replace", got.ReplaceEtag, &replace) && (replace.OK != 200 || replace.Status != "paid" || replace.Stale != float64(412)) {
		t.Errorf("replace with IfMatch: %+v, want 200 then 412 with the stale etag", replace)
	}
	var query []string
	if decode(t, "query", got.QueryParams, &query) && !slices.Equal(query, []string{"o7", "o5", "o3", "o2"}) {
		t.Errorf("parameterized ORDER BY query: %v, want [o7 o5 o3 o2]", query)
	}
	var paging struct {
		Pages        [][]string
		Continuation bool
	}
	if decode(t, "paging", got.Paging, &paging) && (!slices.EqualFunc(paging.Pages, [][]string{{"o1", "o2"}, {"o3", "o5"}, {"o7"}}, slices.Equal) || !paging.Continuation) {
		t.Errorf("maxItemCount 2 paging: %+v, want [[o1 o2] [o3 o5] [o7]] with continuation tokens", paging)
	}
	var cross []string
	if decode(t, "cross-partition", got.CrossPartition, &cross) && !slices.Equal(cross, []string{"a:o1", "a:o2", "a:o3", "b:o4", "a:o5", "b:o6", "a:o7"}) {
		t.Errorf("cross-partition ORDER BY: %v", cross)
	}
	var patch struct {
		StatusCode, Total int
		Status            string
		Tags              []string
	}
	if decode(t, "patch", got.Patch, &patch) && (patch.StatusCode != 200 || patch.Status != "shipped" || patch.Total != 35 || !slices.Equal(patch.Tags, []string{"x"})) {
		t.Errorf("patch: %+v", patch)
	}
	var batch struct {
		StatusCode int
		Results    []int
	}
	if decode(t, "batch", got.Batch, &batch) && (batch.StatusCode != 200 || !slices.Equal(batch.Results, []int{201, 201, 200, 200, 204})) {
		t.Errorf("batch: %+v, want 200 with [201 201 200 200 204] (an upsert that creates is 201)", batch)
	}
	var fails struct {
		StatusCode int
		Results    []int
		B3         int
	}
	if decode(t, "failing batch", got.BatchFails, &fails) && (fails.StatusCode != 207 || !slices.Equal(fails.Results, []int{424, 409}) || fails.B3 != 404) {
		// The gateway answers a failed batch with 207 Multi-Status (the .NET SDK then
		// reports the failing operation's code; the JavaScript SDK gives the 207).
		t.Errorf("batch with a conflict: %+v, want 207 with [424 409], nothing written", fails)
	}
	var del struct{ StatusCode, After int }
	if decode(t, "delete", got.Delete, &del) && (del.StatusCode != 204 || del.After != 404) {
		t.Errorf("delete: %+v", del)
	}
}

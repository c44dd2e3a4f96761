package main

import "testing"

func TestExecFlag(t *testing.T) {
	var e execFlags
	if err := e.Set("backend=bin/backend --port 1"); err != nil || e[0].workload != "backend" || len(e[0].argv) != 3 {
		t.Fatalf("Set: %v %+v", err, e)
	}
	for _, bad := range []string{"bin/backend", "=x", "backend=", "backend=  "} {
		if err := e.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "AZURE_CLIENT_ID=stale", "HOME=/root"}, map[string]string{"AZURE_CLIENT_ID": "new"})
	want := map[string]bool{"PATH=/bin": true, "HOME=/root": true, "AZURE_CLIENT_ID=new": true}
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	for _, kv := range got {
		if !want[kv] {
			t.Fatalf("got %v", got)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/identity"
)

// The backend's GET /identity on its health port, as wired by run against the
// local stack: its own client ID and token claims, and every permission it needs
// probed without side effects (reads ok, writes not probed).
func TestIdentityOnHealthPort(t *testing.T) {
	st := local.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := st.Env("backend")
	env["HEALTH_ADDR"] = "127.0.0.1:0"
	env["SHUTDOWN_TIMEOUT"] = "5s"
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, func(k string) string { return env[k] }, logs, ready) }()
	defer func() {
		stop()
		<-done
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("backend exited: %v\n%s", err, logs)
	case <-ctx.Done():
		t.Fatal("backend did not start")
	}
	resp, err := http.Get("http://" + addr + "/identity")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v identity.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || v.Service != "backend" || v.ClientID != env["AZURE_CLIENT_ID"] || v.Token == nil ||
		v.Token.Subject != "system:serviceaccount:orderflow:backend" || len(v.Dependencies) == 0 {
		t.Fatalf("%d %+v", resp.StatusCode, v)
	}
	if v.Permissions == nil {
		t.Fatal("no permissions")
	}
	want := map[string]doctor.PermissionStatus{
		"keyvault-secret": doctor.Allowed, "cosmos-read": doctor.Allowed, "blob-read:receipts": doctor.Allowed,
		"blob-write:receipts": doctor.NotProbed, "servicebus-peek:orders": doctor.Allowed, "servicebus-send:order-events": doctor.NotProbed,
	}
	for _, p := range v.Permissions.Items {
		if w, ok := want[p.Check]; !ok || p.Status != w {
			t.Errorf("%s: %s (%s), want %q", p.Check, p.Status, p.Detail, w)
		}
		delete(want, p.Check)
	}
	if len(want) > 0 {
		t.Errorf("missing permissions %v", want)
	}
}

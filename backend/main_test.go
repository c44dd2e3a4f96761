package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestRunRefusesBadConfiguration checks that a misconfigured backend stops at once
// with every problem named, before touching the network.
func TestRunRefusesBadConfiguration(t *testing.T) {
	env := map[string]string{"WORKER_CONCURRENCY": "0", "COSMOS_ENDPOINT": "https://cosmos.example/"}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
	if err == nil {
		t.Fatal("run accepted an empty configuration")
	}
	for _, want := range []string{"KEYVAULT_URL is not set", "SERVICEBUS_NAMESPACE is not set", `WORKER_CONCURRENCY is "0"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

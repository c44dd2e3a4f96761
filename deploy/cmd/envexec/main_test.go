package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseEnvFile(t *testing.T) {
	got, err := parseEnvFile("x.env", "# written by localazure\n\nAZURE_CLIENT_ID=abc\nexport AZURE_TENANT_ID=\"t-1\"\nKEYVAULT_URL='https://127.0.0.1:8401/'\nEMPTY=\nWITH_EQ=a=b\n")
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"AZURE_CLIENT_ID", "abc"}, {"AZURE_TENANT_ID", "t-1"}, {"KEYVAULT_URL", "https://127.0.0.1:8401/"}, {"EMPTY", ""}, {"WITH_EQ", "a=b"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// As localazure/stack.FormatEnv quotes: '...' with ' as '\''.
	got, err = parseEnvFile("q.env", "A='it'\\''s here'\nB=\"x \\\"y\\\" \\$z\"\nC=a\\ b\nD='#not a comment'\n")
	if err != nil {
		t.Fatal(err)
	}
	want = [][2]string{{"A", "it's here"}, {"B", `x "y" $z`}, {"C", "a b"}, {"D", "#not a comment"}}
	if !slices.Equal(got, want) {
		t.Fatalf("quoted: got %q, want %q", got, want)
	}
	if _, err := parseEnvFile("bad.env", "A='open\n"); err == nil {
		t.Fatal("an unterminated quote must be an error")
	}
	if _, err := parseEnvFile("bad.env", "NOT A PAIR\n"); err == nil {
		t.Fatal("a line without = must be an error")
	}
}

func TestRunExecsWithMergedEnvWithoutOverwriting(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "frontend.env")
	// The file appears after envexec starts waiting, as when localazure is still starting.
	go func() {
		time.Sleep(300 * time.Millisecond)
		os.WriteFile(f+".tmp", []byte("AZURE_CLIENT_ID=from-file\nLOG_LEVEL=debug\n"), 0o644)
		os.Rename(f+".tmp", f)
	}()
	var gotArgv, gotEnv []string
	code := run([]string{"-wait", "5s", f, "--", "/frontend", "-x"}, []string{"LOG_LEVEL=info", "PATH=/"},
		func(argv0 string, argv, env []string) error {
			gotArgv, gotEnv = argv, env
			return nil
		})
	if code != 1 { // exec "returned": run reports failure, as a real exec never returns
		t.Fatalf("code %d", code)
	}
	if !slices.Equal(gotArgv, []string{"/frontend", "-x"}) {
		t.Fatalf("argv %q", gotArgv)
	}
	if !slices.Contains(gotEnv, "AZURE_CLIENT_ID=from-file") || !slices.Contains(gotEnv, "LOG_LEVEL=info") || slices.Contains(gotEnv, "LOG_LEVEL=debug") {
		t.Fatalf("env %q: file values must fill in, never overwrite", gotEnv)
	}
}

func TestRunTimesOutOnMissingFile(t *testing.T) {
	code := run([]string{"-wait", "100ms", filepath.Join(t.TempDir(), "missing.env"), "--", "/x"}, nil,
		func(string, []string, []string) error { t.Fatal("must not exec"); return nil })
	if code != 1 {
		t.Fatalf("code %d, want 1", code)
	}
}

func TestCheckAndProbe(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.env")
	if run([]string{"-check", f}, nil, nil) != 1 {
		t.Fatal("check of a missing file must fail")
	}
	os.WriteFile(f, nil, 0o644)
	if run([]string{"-check", f}, nil, nil) != 0 {
		t.Fatal("check of a present file must pass")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if run([]string{"-probe", srv.URL + "/readyz"}, nil, nil) != 0 {
		t.Fatal("probe of a 200 must pass")
	}
	if run([]string{"-probe", srv.URL + "/other"}, nil, nil) != 1 {
		t.Fatal("probe of a 503 must fail")
	}
	if run([]string{"bogus"}, nil, nil) != 2 {
		t.Fatal("bad usage must exit 2")
	}
}

func TestAwaitWaitsForEveryTarget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// A TCP port that starts listening only after a while, as an emulator does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	late := make(chan net.Listener, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			late <- nil
			return
		}
		late <- l
	}()
	if code := await([]string{srv.URL + "/health", "tcp://" + addr}, 10*time.Second, 50*time.Millisecond); code != 0 {
		t.Fatalf("await = %d, want 0 once both answer", code)
	}
	if l := <-late; l != nil {
		l.Close()
	} else {
		t.Skip("could not re-listen on the port")
	}
	// A target that never answers fails after the limit.
	if code := await([]string{"tcp://" + addr}, 200*time.Millisecond, 50*time.Millisecond); code != 1 {
		t.Fatalf("await of a closed port = %d, want 1", code)
	}
	if run([]string{"-await", "1s", "ftp://x"}, nil, nil) != 2 || run([]string{"-await", "soon", "tcp://a:1"}, nil, nil) != 2 {
		t.Fatal("bad -await targets or durations must exit 2")
	}
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if run([]string{"-probe", "tcp://" + ln.Addr().String()}, nil, nil) != 0 {
		t.Fatal("probe of a listening port must pass")
	}
}

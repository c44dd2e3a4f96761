package azurite

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Account is Azurite's development storage account, the first path segment of every
// blob URL (Azurite serves path-style URLs on IP hosts).
const Account = "devstoreaccount1"

// Options configure Start.
type Options struct {
	// Dir holds package.json and node_modules (see FindDir).
	Dir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// CertPEM and KeyPEM are the server certificate chain and key (tlsca.KeyPEM). They
	// are required: Azurite accepts bearer tokens only over https.
	CertPEM, KeyPEM []byte
	// RootCAs verifies the certificate while waiting for Azurite to answer.
	RootCAs *x509.CertPool
	// WorkDir receives the certificate files and is Azurite's working directory.
	WorkDir string
	// DataDir persists blobs there; "" keeps them in memory.
	DataDir string
	// StartTimeout bounds the wait for the first answer, default 30s.
	StartTimeout time.Duration
	// AccessLog keeps Azurite's per-request access log (morgan, one line per request
	// on stdout, read back into Logger at debug level). Off, Azurite runs with
	// --silent: the log was about a quarter of its CPU per small upload, and it
	// changes nothing Azurite accepts or answers (BenchmarkQuietUploads).
	AccessLog bool
	Logger    *slog.Logger
}

// Server is a running azurite-blob.
type Server struct {
	port    int
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	logger  *slog.Logger
	tail    *tail

	stopOnce sync.Once
	stopErr  error
}

// Start launches azurite-blob and returns once it answers https requests.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := binary(opts.Dir)
	if err != nil {
		return nil, err
	}
	if len(opts.CertPEM) == 0 || len(opts.KeyPEM) == 0 {
		return nil, errors.New("azurite: CertPEM and KeyPEM are required (OAuth needs https)")
	}
	if opts.WorkDir == "" {
		return nil, errors.New("azurite: WorkDir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if err := os.MkdirAll(opts.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	certFile := filepath.Join(opts.WorkDir, "azurite-cert.pem")
	keyFile := filepath.Join(opts.WorkDir, "azurite-key.pem")
	if err := os.WriteFile(certFile, opts.CertPEM, 0o600); err != nil {
		return nil, fmt.Errorf("azurite: write certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, opts.KeyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("azurite: write key: %w", err)
	}
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("azurite: data directory: %w", err)
		}
	}
	// A free port chosen here can be taken before Azurite binds it (tests run in
	// parallel), so an address clash is retried with another port.
	for attempt := 0; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		s, err := start(ctx, bin, port, certFile, keyFile, opts)
		if err == nil {
			return s, nil
		}
		if opts.Port != 0 || attempt == 2 || !errors.Is(err, errAddrInUse) {
			return nil, err
		}
		opts.Logger.Debug("azurite port taken, retrying", "port", port)
	}
}

var errAddrInUse = errors.New("address already in use")

func start(ctx context.Context, bin string, port int, certFile, keyFile string, opts Options) (*Server, error) {
	args := []string{
		"--blobHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(port),
		// The Go SDK sends x-ms-version values newer than Azurite knows.
		"--skipApiVersionCheck",
		"--disableTelemetry",
		"--oauth", "basic",
		"--cert", certFile,
		"--key", keyFile,
	}
	if !opts.AccessLog {
		args = append(args, "--silent")
	}
	if opts.DataDir != "" {
		args = append(args, "--location", opts.DataDir)
	} else {
		args = append(args, "--inMemoryPersistence")
	}
	// Not CommandContext: the caller's ctx bounds the start, not the server's life.
	cmd := exec.Command(bin, args...)
	cmd.Dir = opts.WorkDir
	cmd.Env = append(os.Environ(), "NODE_OPTIONS="+nodeOptions(opts.Dir))
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("azurite: start %s: %w", bin, err)
	}
	s := &Server{port: port, cmd: cmd, done: make(chan struct{}), logger: opts.Logger, tail: &tail{}}
	go s.pump(out)
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, opts.RootCAs, opts.StartTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// nodeOptions preloads fast-start.js and durable.js (see each) keeping any
// NODE_OPTIONS the user has.
func nodeOptions(dir string) string {
	o := strings.TrimSpace(os.Getenv("NODE_OPTIONS"))
	for _, name := range []string{"fast-start.js", "durable.js"} {
		pre := filepath.Join(dir, name)
		if _, err := os.Stat(pre); err == nil {
			o += ` --require "` + pre + `"`
		}
	}
	return strings.TrimSpace(o)
}

func (s *Server) pump(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		s.tail.add(line)
		s.logger.Debug("azurite", "line", line)
	}
}

func (s *Server) waitReady(ctx context.Context, roots *x509.CertPool, timeout time.Duration) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	url := s.URL() + "?comp=list"
	for {
		select {
		case <-s.done:
			out := s.tail.String()
			if strings.Contains(out, "EADDRINUSE") {
				return fmt.Errorf("azurite: port %d: %w", s.port, errAddrInUse)
			}
			return fmt.Errorf("azurite exited before answering (%v); its output:\n%s", s.waitErr, out)
		case <-ctx.Done():
			return fmt.Errorf("azurite: waiting for it to answer: %w", ctx.Err())
		default:
		}
		// Any HTTP answer (an unauthenticated list is refused) means it is serving, and
		// the certificate check proves it is ours rather than whatever held the port.
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("azurite did not answer on port %d within %s: %v; its output:\n%s", s.port, timeout, err, s.tail.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Pid is the process ID of Azurite's node process (the npm bin script execs node).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Port is the port Azurite listens on.
func (s *Server) Port() int { return s.port }

// URL is the blob service endpoint of the development account, without a trailing slash.
func (s *Server) URL() string { return fmt.Sprintf("https://127.0.0.1:%d/%s", s.port, Account) }

// Stop asks Azurite to shut down (SIGTERM), and kills it after a grace period.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.logger.Warn("azurite did not stop within 5s of SIGTERM; killing it")
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("azurite: killed after not stopping on SIGTERM")
		}
	})
	return s.stopErr
}

// Kill ends the process with SIGKILL at once, as a crash would: for crash tests.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Exited is closed when the process has exited, for supervisors.
func (s *Server) Exited() <-chan struct{} { return s.done }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("azurite: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last lines of output for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > 40 {
		t.lines = t.lines[len(t.lines)-40:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

package entraemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Run writes every workload's token file now and rewrites each when 80% of its
// lifetime has passed, as kubelet refreshes projected service-account tokens, until ctx
// ends. It returns nil when ctx ends and an error when a file cannot be written.
// Without a TokenDir it only waits for ctx.
func (s *Server) Run(ctx context.Context) error {
	if s.opts.TokenDir == "" {
		<-ctx.Done()
		return nil
	}
	refresh := s.opts.TokenTTL * 8 / 10
	for {
		if err := s.WriteTokenFiles(); err != nil {
			return err
		}
		t := time.NewTimer(refresh)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// WriteTokenFiles writes a fresh token into every workload's token file once.
func (s *Server) WriteTokenFiles() error {
	if s.opts.TokenDir == "" {
		return errors.New("entra: no TokenDir configured")
	}
	for _, w := range s.opts.Workloads {
		tok, err := s.mintServiceAccountToken(w.Namespace, w.ServiceAccount, w.Name, s.opts.TokenTTL)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(s.TokenFile(w.Name), []byte(tok)); err != nil {
			return fmt.Errorf("entra: token file of workload %s: %w", w.Name, err)
		}
		s.log.Debug("entra wrote service-account token", "workload", w.Name, "file", s.TokenFile(w.Name))
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file and a rename, so
// that a reader (azidentity re-reads the file every few minutes) never sees a partial token.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o600)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return werr
	}
	return nil
}

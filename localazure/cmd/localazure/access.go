package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/contoso/orderflow/localazure/authz"
)

// accessLogMax is the size at which access.log is moved to access.log.1 and
// started again, so that a long session never fills the disk.
const accessLogMax = 10 << 20

// writeAccessLog appends every data-plane decision of the stack to path as JSON
// lines (`tail -f` it, or filter with jq) until ctx ends. The file starts empty at
// each `up`.
func writeAccessLog(ctx context.Context, l *authz.AccessLog, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	ch, stop := l.Subscribe()
	go func() {
		defer stop()
		defer func() { f.Close() }() // the file in use at the end, after any rotation
		var size int64
		for {
			select {
			case <-ctx.Done():
				return
			case a := <-ch:
				if size > accessLogMax {
					f.Close()
					_ = os.Rename(path, path+".1")
					if f, err = os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err != nil {
						return
					}
					size = 0
				}
				b, err := json.Marshal(a)
				if err != nil {
					continue
				}
				n, err := f.Write(append(b, '\n'))
				if err != nil {
					return
				}
				size += int64(n)
			}
		}
	}()
	return nil
}

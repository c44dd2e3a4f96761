package blob

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLimitedReader(t *testing.T) {
	// Exactly at the limit: everything read, no error.
	lr := &limitedReader{r: strings.NewReader("12345"), max: 5}
	b, err := io.ReadAll(lr)
	if err != nil || string(b) != "12345" || lr.exceeded || lr.n != 5 {
		t.Fatalf("at limit: %q %v exceeded=%v n=%d", b, err, lr.exceeded, lr.n)
	}
	// One past: fails, having read at most one byte beyond the limit.
	src := bytes.NewReader(make([]byte, 10<<20))
	lr = &limitedReader{r: src, max: 1 << 20}
	_, err = io.Copy(io.Discard, lr)
	if !errors.Is(err, errTooLarge) || !lr.exceeded || lr.n != 1<<20+1 {
		t.Fatalf("past limit: err=%v exceeded=%v n=%d", err, lr.exceeded, lr.n)
	}
	if read := int64(10<<20) - int64(src.Len()); read != 1<<20+1 {
		t.Errorf("read %d bytes from the source, want limit+1", read)
	}
}

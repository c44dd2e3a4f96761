package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// pngHeader is enough of a PNG for content sniffing.
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// multipartBody builds a body with one file part; contentType "" omits the header.
func multipartBody(t *testing.T, field, filename, contentType string, content io.Reader) (io.Reader, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, content)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

func TestUploadAttachment(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	content := append(slices.Clone(pngHeader), bytes.Repeat([]byte{7}, 200<<10)...)
	body, ct := multipartBody(t, "file", "photo (1).png", "image/png", bytes.NewReader(content))
	resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", ct, body)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var a orders.Attachment
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "photo (1).png" || a.ContentType != "image/png" || a.Size != int64(len(content)) {
		t.Errorf("attachment %+v", a)
	}
	if !bytes.Equal(f.attachments.Blob(o.ID, a.Name), content) {
		t.Error("stored bytes differ from the upload")
	}
	if f.attachments.Reads() < 2 {
		t.Errorf("store read the upload in %d call(s); want it streamed in chunks", f.attachments.Reads())
	}
	stored, _ := f.orders.Get(context.Background(), o.ID)
	if len(stored.Attachments) != 1 || stored.Attachments[0] != a {
		t.Errorf("order attachments %+v", stored.Attachments)
	}
	if got := resp.Header.Get("Location"); got != "/api/orders/"+o.ID+"/attachments/photo%20%281%29.png" {
		t.Errorf("Location %q", got)
	}

	// It downloads as an attachment with its type, never rendered inline.
	dl := f.do(http.MethodGet, resp.Header.Get("Location"), "", nil)
	got, _ := io.ReadAll(dl.Body)
	if dl.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download: status %d, %d bytes", dl.StatusCode, len(got))
	}
	if cd := dl.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if dl.Header.Get("Content-Type") != "image/png" || dl.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download headers %v", dl.Header)
	}
}

func TestUploadAttachmentTooLarge(t *testing.T) {
	const limit = 64 << 10
	f := newFixture(t, Limits{MaxAttachmentBytes: limit})
	o := f.seedOrder("c-1", time.Now())
	// Twenty times the limit: the handler must stop reading near the limit,
	// which the pipe shows by the writer being cut off.
	content := io.MultiReader(bytes.NewReader(pngHeader), io.LimitReader(zeros{}, 20*limit))
	body, ct := multipartBody(t, "file", "big.png", "image/png", content)
	resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", ct, body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	p := decodeProblem(t, resp)
	if !slices.Equal(fieldsOf(p), []string{"file"}) {
		t.Errorf("fields %v, want [file]", fieldsOf(p))
	}
	if f.attachments.Blob(o.ID, "big.png") != nil {
		t.Error("an oversized attachment was stored")
	}
	stored, _ := f.orders.Get(context.Background(), o.ID)
	if len(stored.Attachments) != 0 {
		t.Error("an oversized attachment was recorded on the order")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestUploadAttachmentRejected(t *testing.T) {
	tests := []struct {
		name        string
		field, file string
		contentType string
		content     []byte
		status      int
		fields      []string
	}{
		{"type not allowed", "file", "run.sh", "application/x-sh", []byte("#!/bin/sh\n"), 415, []string{"file"}},
		{"no content type", "file", "x.bin", "", []byte{1, 2, 3}, 415, []string{"file"}},
		{"content does not match type", "file", "fake.png", "image/png", []byte("<html><script>alert(1)</script></html>"), 415, []string{"file"}},
		{"html declared as text", "file", "page.txt", "text/plain", []byte("<!DOCTYPE html><html></html>"), 415, []string{"file"}},
		{"unsafe file name", "file", "..hidden", "text/plain", []byte("hello"), 400, []string{"file"}},
		{"no file part", "other", "a.txt", "text/plain", []byte("hello"), 400, []string{"file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			o := f.seedOrder("c-1", time.Now())
			body, ct := multipartBody(t, tt.field, tt.file, tt.contentType, bytes.NewReader(tt.content))
			resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", ct, body)
			if resp.StatusCode != tt.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if got := fieldsOf(decodeProblem(t, resp)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestUploadAttachmentNotMultipart(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", resp.StatusCode)
	}
	decodeProblem(t, resp)
}

func TestUploadAttachmentUnknownOrder(t *testing.T) {
	f := newFixture(t, Limits{})
	body, ct := multipartBody(t, "file", "a.txt", "text/plain", strings.NewReader("hello"))
	resp := f.do(http.MethodPost, "/api/orders/no-such-order/attachments", ct, body)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	decodeProblem(t, resp)
}

func TestUploadAttachmentDuplicateNameKeepsTheFirst(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	upload := func(content string) *http.Response {
		body, ct := multipartBody(t, "file", "note.txt", "text/plain", strings.NewReader(content))
		return f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", ct, body)
	}
	if resp := upload("first"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: %d", resp.StatusCode)
	}
	resp := upload("second")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("second upload: %d, want 409", resp.StatusCode)
	}
	if got := fieldsOf(decodeProblem(t, resp)); !slices.Equal(got, []string{"file"}) {
		t.Errorf("fields %v", got)
	}
	if got := string(f.attachments.Blob(o.ID, "note.txt")); got != "first" {
		t.Errorf("stored %q: the refused upload overwrote the first", got)
	}
}

// TestUploadAttachmentTooLargeBeforeFilePart overflows the body limit in a form
// field ahead of the file, so the limit is hit while looking for the file part:
// the message must still state the real limit.
func TestUploadAttachmentTooLargeBeforeFilePart(t *testing.T) {
	const limit = 4 << 10
	f := newFixture(t, Limits{MaxAttachmentBytes: limit})
	o := f.seedOrder("c-1", time.Now())
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormField("comment")
		if err == nil {
			_, err = io.Copy(w, io.LimitReader(zeros{}, 2*(limit+multipartOverhead)))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", mw.FormDataContentType(), pr)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	p := decodeProblem(t, resp)
	if want := fmt.Sprintf("larger than %d bytes", limit); !strings.Contains(p.Detail, want) {
		t.Errorf("detail %q does not say %q", p.Detail, want)
	}
	if len(p.Errors) != 1 || p.Errors[0].Field != "file" || !strings.Contains(p.Errors[0].Message, fmt.Sprint(limit)) {
		t.Errorf("errors %+v, want file: must be at most %d bytes", p.Errors, limit)
	}
}

// TestUploadAttachmentNameWithFolders: multipart.Part.FileName keeps only the
// base name, so these were stored as "passwd" or "b.txt"; the client must be
// told its name has folders instead.
func TestUploadAttachmentNameWithFolders(t *testing.T) {
	for _, name := range []string{"../../etc/passwd", "a/b.txt", `a\b.txt`, "/abs.txt", `..\..\boot.ini`} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			o := f.seedOrder("c-1", time.Now())
			body, ct := multipartBody(t, "file", name, "text/plain", strings.NewReader("hello"))
			resp := f.do(http.MethodPost, "/api/orders/"+o.ID+"/attachments", ct, body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
			p := decodeProblem(t, resp)
			if len(p.Errors) != 1 || p.Errors[0].Field != "file" || !strings.Contains(p.Errors[0].Message, "without folders") {
				t.Errorf("errors %+v, want file: must be a file name without folders", p.Errors)
			}
			if stored, _ := f.orders.Get(context.Background(), o.ID); len(stored.Attachments) != 0 {
				t.Errorf("stored as %+v", stored.Attachments)
			}
		})
	}
}

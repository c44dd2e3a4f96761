package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestReceiptVerified(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	r := f.complete(o)
	// Rotate the key: a receipt signed with v1 must still verify with v1.
	f.secrets.Rotate("v2", []byte("another-key-entirely-0123456789ab"))

	resp := f.do(http.MethodGet, "/api/orders/"+o.ID+"/receipt", "", nil)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var v receiptView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if !v.Verified || v.KeyVersion != "v1" || v.Receipt == nil || v.Receipt.Total != r.Total || v.Receipt.Signature != r.Signature {
		t.Errorf("receipt view %+v", v)
	}
}

func TestReceiptTampered(t *testing.T) {
	tests := map[string]func(doc []byte) []byte{
		"total raised": func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"total": 2400`), []byte(`"total": 1`), 1)
		},
		"key version swapped": func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"keyVersion": "v1"`), []byte(`"keyVersion": "v2"`), 1)
		},
		"unknown key version": func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"keyVersion": "v1"`), []byte(`"keyVersion": "v9"`), 1)
		},
		"not JSON": func([]byte) []byte { return []byte("garbage") },
		"key version is a path": func(doc []byte) []byte {
			return bytes.Replace(doc, []byte(`"keyVersion": "v1"`), []byte(`"keyVersion": "../../keys/other"`), 1)
		},
		"other order's receipt": func(doc []byte) []byte {
			var m map[string]any
			_ = json.Unmarshal(doc, &m)
			m["orderId"] = "someone-elses-order"
			b, _ := json.Marshal(m)
			return b
		},
	}
	for name, tamper := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Limits{})
			o := f.seedOrder("c-1", time.Now())
			f.complete(o)
			f.secrets.Rotate("v2", []byte("another-key-entirely-0123456789ab"))
			doc := f.receipts.Doc(o.ID)
			changed := tamper(doc)
			if bytes.Equal(changed, doc) {
				t.Fatalf("tampering changed nothing in %s", doc)
			}
			f.receipts.Set(o.ID, changed)

			resp := f.do(http.MethodGet, "/api/orders/"+o.ID+"/receipt", "", nil)
			if resp.StatusCode != http.StatusConflict {
				t.Fatalf("status %d, want 409", resp.StatusCode)
			}
			p := decodeProblem(t, resp)
			if p.Title != "receipt signature does not verify" || p.Type != problemTypeBase+receiptInvalidKind {
				t.Errorf("problem %+v", p)
			}
		})
	}
}

func TestReceiptNotYet(t *testing.T) {
	f := newFixture(t, Limits{})
	o := f.seedOrder("c-1", time.Now())
	resp := f.do(http.MethodGet, "/api/orders/"+o.ID+"/receipt", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	if p := decodeProblem(t, resp); p.Detail == "" {
		t.Error("no detail saying the order is still pending")
	}
	resp = f.do(http.MethodGet, "/api/orders/unknown/receipt", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown order: status %d, want 404", resp.StatusCode)
	}
}

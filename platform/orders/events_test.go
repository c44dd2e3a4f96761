package orders_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

func TestEventRoundTrip(t *testing.T) {
	o := &orders.Order{ID: "o-1", CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}, Total: 1200, CreatedAt: time.Unix(1700000000, 0).UTC()}
	ev, err := orders.NewOrderPlacedEvent(o, "/orderflow/frontend", time.Unix(1700000001, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// The wire form carries the CloudEvents attribute names.
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"specversion": "1.0", "type": orders.TypeOrderPlaced, "id": "o-1", "subject": "orders/o-1", "source": "/orderflow/frontend", "datacontenttype": "application/json", "time": "2023-11-14T22:13:21Z"} {
		if raw[k] != want {
			t.Errorf("%s = %v, want %q", k, raw[k], want)
		}
	}
	back, err := orders.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	d, err := back.OrderPlaced()
	if err != nil {
		t.Fatal(err)
	}
	if d.OrderID != "o-1" || d.CustomerID != "alice" || d.Total != 1200 || len(d.Items) != 1 || !d.CreatedAt.Equal(o.CreatedAt) {
		t.Errorf("data = %+v", d)
	}
	if _, err := back.OrderCompleted(); orders.ErrorCode(err) != orders.EUNSUPPORTED {
		t.Errorf("wrong type accepted: %v", err)
	}

	r := &orders.Receipt{OrderID: "o-1", Total: 1200, IssuedAt: time.Unix(1700000100, 0).UTC(), KeyVersion: "v9"}
	ce, _ := orders.NewOrderCompletedEvent(o, r, "/orderflow/backend")
	ce2, _ := orders.NewOrderCompletedEvent(o, r, "/orderflow/backend")
	b1, _ := ce.Encode()
	b2, _ := ce2.Encode()
	if string(b1) != string(b2) || ce.ID != "o-1-completed" {
		t.Errorf("completed event not deterministic or wrong id: %s", b1)
	}
	back2, _ := orders.DecodeEvent(b1)
	cd, err := back2.OrderCompleted()
	if err != nil || cd.KeyVersion != "v9" || cd.ReceiptBlob != "o-1.json" {
		t.Errorf("completed data = %+v, %v", cd, err)
	}
}

func TestDecodeEventRejects(t *testing.T) {
	cases := map[string]string{
		"not json":       `nope`,
		"no specversion": `{"type":"t","source":"s","id":"i"}`,
		"old spec":       `{"specversion":"0.3","type":"t","source":"s","id":"i"}`,
		"no id":          `{"specversion":"1.0","type":"t","source":"s"}`,
		"xml data":       `{"specversion":"1.0","type":"t","source":"s","id":"i","datacontenttype":"application/xml"}`,
		"too large":      `{"x":"` + strings.Repeat("a", orders.MaxEventBytes) + `"}`,
	}
	want := map[string]string{"not json": orders.EINVALID, "no specversion": orders.EUNSUPPORTED, "old spec": orders.EUNSUPPORTED, "no id": orders.EINVALID, "xml data": orders.EUNSUPPORTED, "too large": orders.ETOOLARGE}
	for name, in := range cases {
		if _, err := orders.DecodeEvent([]byte(in)); orders.ErrorCode(err) != want[name] {
			t.Errorf("%s: err = %v, want code %s", name, err, want[name])
		}
	}
	// Valid envelope, bad data.
	for _, data := range []string{`null`, `"x"`, `{"orderId":"../etc","customerId":"a"}`, `{"orderId":"o","customerId":""}`} {
		e, err := orders.DecodeEvent([]byte(`{"specversion":"1.0","type":"` + orders.TypeOrderPlaced + `","source":"s","id":"i","data":` + data + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.OrderPlaced(); orders.ErrorCode(err) != orders.EINVALID {
			t.Errorf("data %s: err = %v", data, err)
		}
	}
	e, _ := orders.DecodeEvent([]byte(`{"specversion":"1.0","type":"com.contoso.orderflow.order.placed.v2","source":"s","id":"i","data":{}}`))
	if _, err := e.OrderPlaced(); orders.ErrorCode(err) != orders.EUNSUPPORTED {
		t.Errorf("v2 accepted as v1: %v", err)
	}
}

// FuzzDecodeEvent checks that decoding arbitrary bytes never panics, that everything
// rejected carries a domain code, and that an accepted OrderPlaced has safe IDs.
func FuzzDecodeEvent(f *testing.F) {
	o := &orders.Order{ID: "o-1", CustomerID: "c", Items: []orders.Item{{ProductID: "p", Quantity: 1}}}
	ev, _ := orders.NewOrderPlacedEvent(o, "/s", time.Unix(0, 0))
	b, _ := ev.Encode()
	f.Add(b)
	f.Add([]byte(`{"specversion":"1.0","type":"x","source":"s","id":"i","data":null}`))
	f.Add([]byte(`{"specversion":"1.0","time":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := orders.DecodeEvent(in)
		if err != nil {
			if c := orders.ErrorCode(err); c == orders.EINTERNAL || c == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		d, err := e.OrderPlaced()
		if err != nil {
			if c := orders.ErrorCode(err); c != orders.EINVALID && c != orders.EUNSUPPORTED {
				t.Fatalf("OrderPlaced error code %q: %v", c, err)
			}
			return
		}
		if orders.ValidateOrderID(d.OrderID) != nil || orders.ValidateCustomerID(d.CustomerID) != nil {
			t.Fatalf("accepted unsafe IDs %q %q", d.OrderID, d.CustomerID)
		}
	})
}

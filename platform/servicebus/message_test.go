package servicebus

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/telemetry"
)

type recordingSender struct{ sent []*azservicebus.Message }

func (r *recordingSender) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	r.sent = append(r.sent, m)
	return nil
}
func (r *recordingSender) Close(context.Context) error { return nil }

func TestPublishersSetIDsTypeAndTrace(t *testing.T) {
	rs := &recordingSender{}
	p := &Publisher{s: rs, source: SourceFrontend, now: time.Now}
	o := &orders.Order{ID: "o-7", CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}
	tc := telemetry.NewTrace()
	ctx := telemetry.ContextWithTrace(context.Background(), tc)
	if err := p.PublishOrderPlaced(ctx, o); err != nil {
		t.Fatal(err)
	}
	ep := &EventPublisher{s: rs, source: SourceBackend}
	if err := ep.PublishOrderCompleted(ctx, o, &orders.Receipt{OrderID: "o-7", KeyVersion: "v1", IssuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if len(rs.sent) != 2 {
		t.Fatalf("sent %d", len(rs.sent))
	}
	for i, want := range []struct{ id, typ string }{{"o-7", orders.TypeOrderPlaced}, {"o-7-completed", orders.TypeOrderCompleted}} {
		m := rs.sent[i]
		if *m.MessageID != want.id || *m.Subject != want.typ || *m.ContentType != orders.ContentTypeCloudEvents {
			t.Errorf("message %d: id=%s subject=%s ct=%s", i, *m.MessageID, *m.Subject, *m.ContentType)
		}
		got, ok := telemetry.ParseTraceparent(m.ApplicationProperties["traceparent"].(string))
		if !ok || got.TraceID != tc.TraceID {
			t.Errorf("message %d: traceparent %v does not continue trace %s", i, m.ApplicationProperties["traceparent"], tc.TraceID)
		}
		ev, err := orders.DecodeEvent(m.Body)
		if err != nil || ev.Type != want.typ || ev.ID != want.id {
			t.Errorf("message %d body: %+v %v", i, ev, err)
		}
	}
}

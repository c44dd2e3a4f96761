package servicebusemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func isUnauthorized(err error) bool {
	var sbErr *azservicebus.Error
	return errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeUnauthorizedAccess
}

func TestTokenCredentialRBAC(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := ctxT(t, 30*time.Second)

	// The sender may send to orders but not receive from it.
	sender := tb.tokenClient(t, "sender")
	s, err := sender.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx, body("via-entra"), nil); err != nil {
		t.Fatalf("sender send: %v", err)
	}
	r, _ := sender.NewReceiverForQueue("orders", nil)
	if _, err := r.ReceiveMessages(ctx, 1, nil); !isUnauthorized(err) {
		t.Fatalf("sender receiving: want unauthorized, got %v", err)
	}
	// Nor send elsewhere.
	s2, _ := sender.NewSender("order-events", nil)
	if err := s2.SendMessage(ctx, body("x"), nil); !isUnauthorized(err) {
		t.Fatalf("sender to another entity: want unauthorized, got %v", err)
	}

	// The receiver may receive and settle, but not send.
	receiver := tb.tokenClient(t, "receiver")
	rr, _ := receiver.NewReceiverForQueue("orders", nil)
	msgs, err := rr.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "via-entra" {
		t.Fatalf("receiver: %v %v", err, msgs)
	}
	if err := rr.RenewMessageLock(ctx, msgs[0], nil); err != nil {
		t.Fatalf("renew via $management: %v", err)
	}
	if err := rr.CompleteMessage(ctx, msgs[0], nil); err != nil {
		t.Fatal(err)
	}
	rs, _ := receiver.NewSender("orders", nil)
	if err := rs.SendMessage(ctx, body("x"), nil); !isUnauthorized(err) {
		t.Fatalf("receiver sending: want unauthorized, got %v", err)
	}

	// Subscription-scoped receiver role.
	owner := tb.tokenClient(t, "owner")
	os, _ := owner.NewSender("order-events", nil)
	if err := os.SendMessage(ctx, body("evt"), nil); err != nil {
		t.Fatalf("owner send: %v", err)
	}
	sub := tb.tokenClient(t, "subreader")
	sr, _ := sub.NewReceiverForSubscription("order-events", "all", nil)
	if m, err := sr.ReceiveMessages(ctx, 1, nil); err != nil || len(m) != 1 {
		t.Fatalf("subscription receiver: %v", err)
	}
	sr2, _ := sub.NewReceiverForSubscription("order-events", "red", nil)
	if _, err := sr2.ReceiveMessages(ctx, 1, nil); !isUnauthorized(err) {
		t.Fatalf("other subscription: want unauthorized, got %v", err)
	}

	// An identity without any role is refused.
	nobody := tb.tokenClient(t, "nobody")
	ns, _ := nobody.NewSender("orders", nil)
	if err := ns.SendMessage(ctx, body("x"), nil); !isUnauthorized(err) {
		t.Fatalf("nobody: want unauthorized, got %v", err)
	}
}

func TestSASRightsAndBadKeys(t *testing.T) {
	tb := startBroker(t, func(o *Options) {
		o.SASKeys = []SASKey{
			{Name: "RootManageSharedAccessKey", Key: EmulatorKey, Rights: []string{"Manage"}},
			{Name: "sendonly", Key: "c2VuZC1rZXk=", Rights: []string{"Send"}},
		}
	})
	ctx := ctxT(t, 30*time.Second)
	cs := func(name, key string) *azservicebus.Client {
		c, err := azservicebus.NewClientFromConnectionString(
			fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true", tb.addr, name, key),
			&azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	so := cs("sendonly", "c2VuZC1rZXk=")
	s, _ := so.NewSender("orders", nil)
	if err := s.SendMessage(ctx, body("ok"), nil); err != nil {
		t.Fatalf("send-only key sending: %v", err)
	}
	r, _ := so.NewReceiverForQueue("orders", nil)
	if _, err := r.ReceiveMessages(ctx, 1, nil); !isUnauthorized(err) {
		t.Fatalf("send-only key receiving: want unauthorized, got %v", err)
	}
	bad := cs("RootManageSharedAccessKey", "wrong-key")
	bs, _ := bad.NewSender("orders", nil)
	if err := bs.SendMessage(ctx, body("x"), nil); !isUnauthorized(err) {
		t.Fatalf("wrong key: want unauthorized, got %v", err)
	}
	// JWTs are refused when no verifier is configured.
	tb2 := startBroker(t, func(o *Options) { o.Verifier = nil })
	jc := tb2.tokenClient(t, "owner")
	js, _ := jc.NewSender("orders", nil)
	if err := js.SendMessage(ctx, body("x"), nil); !isUnauthorized(err) {
		t.Fatalf("JWT without verifier: want unauthorized, got %v", err)
	}
}

func TestUnknownEntity(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	s, _ := c.NewSender("no-such-queue", nil)
	err := s.SendMessage(ctxT(t, 10*time.Second), body("x"), nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeNotFound {
		t.Fatalf("want not found, got %v", err)
	}
}

// sasToken mints a SharedAccessSignature the way the SDKs do.
func sasToken(resource, keyName, key string, expiry time.Time) string {
	sr := url.QueryEscape(strings.ToLower(resource))
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return fmt.Sprintf("SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s", sr, sig, se, keyName)
}

func TestExpiredSASTokenStopsSends(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire")
	}
	tb := startBroker(t, nil)
	tok := sasToken("sb://"+tb.addr+"/", "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(2*time.Second))
	c, err := azservicebus.NewClientFromConnectionString(
		fmt.Sprintf("Endpoint=sb://%s;SharedAccessSignature=%s;UseDevelopmentEmulator=true", tb.addr, tok),
		&azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	s, _ := c.NewSender("orders", nil)
	ctx := ctxT(t, 20*time.Second)
	if err := s.SendMessage(ctx, body("in time"), nil); err != nil {
		t.Fatalf("send with a valid token: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	if err := s.SendMessage(ctx, body("too late"), nil); !isUnauthorized(err) {
		t.Fatalf("send after expiry: want unauthorized, got %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 1 {
		t.Fatalf("orders holds %d", n)
	}
}

func TestExpiredSASTokenStopsReceives(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire")
	}
	tb := startBroker(t, nil)
	tok := sasToken("sb://"+tb.addr+"/", "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(2*time.Second))
	c, err := azservicebus.NewClientFromConnectionString(
		fmt.Sprintf("Endpoint=sb://%s;SharedAccessSignature=%s;UseDevelopmentEmulator=true", tb.addr, tok),
		&azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	r, _ := c.NewReceiverForQueue("orders", nil)
	ctx := ctxT(t, 20*time.Second)
	expectNone(t, r, 100*time.Millisecond) // attaches while the token is valid
	time.Sleep(2500 * time.Millisecond)
	send(t, tb.client(t), "orders", body("after expiry"))
	if _, err := r.ReceiveMessages(ctx, 1, nil); !isUnauthorized(err) {
		t.Fatalf("receive after expiry: want unauthorized, got %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 1 {
		t.Fatalf("orders holds %d", n)
	}
}

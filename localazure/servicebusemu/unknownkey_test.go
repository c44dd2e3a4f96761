package servicebusemu

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	goamqp "github.com/Azure/go-amqp"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
)

// previousRun hands out tokens signed by a key the broker's verifier does not hold,
// under a kid it has never seen: what a workload still caching the token of an
// earlier localazure run presents after a restart.
type previousRun struct{ key *rsa.PrivateKey }

func newPreviousRun(t *testing.T) previousRun {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return previousRun{key: key}
}

func (p previousRun) token(t testing.TB, oid string) string {
	t.Helper()
	now := time.Now()
	iss := "https://sts.windows.net/" + authztest.TenantID + "/"
	tok, err := authz.SignRS256(p.key, "kid-of-the-previous-run", authz.AccessClaims{
		Issuer: iss, Audience: "https://servicebus.azure.net/", Subject: oid, TenantID: authztest.TenantID, ObjectID: oid,
		AppID: "app-" + oid, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type staticCredential string

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// wantUnknownKey checks that an error says what happened and what to do, and does
// not send the reader to the role assignments.
func wantUnknownKey(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted a token signed by an unknown key", what)
	}
	msg := err.Error()
	for _, want := range []string{"signing key (kid) is unknown to this local Service Bus stand-in", "kid-of-the-previous-run", "before localazure restarted", "restart the workload"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: error does not say %q:\n%s", what, want, msg)
		}
	}
}

// TestTokenFromBeforeARestart: the real azservicebus client with a token whose kid
// the broker does not know is told that the key is unknown, most likely a token from
// before a restart, and to get a new one; still an unauthorized-access error.
func TestTokenFromBeforeARestart(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := ctxT(t, 30*time.Second)
	c := tb.credClient(t, staticCredential(newPreviousRun(t).token(t, "owner")))
	s, err := c.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.SendMessage(ctx, body("x"), nil)
	if !isUnauthorized(err) {
		t.Fatalf("send: want unauthorized access, got %v", err)
	}
	wantUnknownKey(t, "send", err)

	// A missing role is still worded as one.
	rs, err := tb.tokenClient(t, "receiver").NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.SendMessage(ctx, body("y"), nil); !isUnauthorized(err) || strings.Contains(err.Error(), "kid") {
		t.Fatalf("missing role: want unauthorized access without a word on keys, got %v", err)
	}
}

// TestAttachAfterARefusedPutToken: a client that attaches although its put-token was
// refused (go-amqp, as clients in other languages may) gets the refusal's reason in
// the attach error, not only "no valid token".
func TestAttachAfterARefusedPutToken(t *testing.T) {
	tb := startBroker(t, nil)
	s := dialBroker(t, tb)
	ctx := ctxT(t, 10*time.Second)
	snd, err := s.NewSender(ctx, "$cbs", nil)
	if err != nil {
		t.Fatal(err)
	}
	replyTo := "reply"
	rcv, err := s.NewReceiver(ctx, "$cbs", &goamqp.ReceiverOptions{TargetAddress: replyTo})
	if err != nil {
		t.Fatal(err)
	}
	audience := "amqp://" + tb.addr + "/orders"
	err = snd.Send(ctx, &goamqp.Message{Value: newPreviousRun(t).token(t, "owner"),
		Properties:            &goamqp.MessageProperties{MessageID: "1", ReplyTo: &replyTo},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "jwt", "name": audience}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ApplicationProperties["status-code"] != int32(401) {
		t.Fatalf("put-token: %v", resp.ApplicationProperties)
	}
	desc, _ := resp.ApplicationProperties["status-description"].(string)
	wantUnknownKey(t, "put-token", errors.New(desc))

	orders, err := s.NewSender(ctx, "orders", nil)
	if err == nil {
		err = orders.Send(ctx, &goamqp.Message{Data: [][]byte{[]byte("x")}}, nil)
	}
	if !isCond(err, goamqp.ErrCondUnauthorizedAccess) {
		t.Fatalf("attach: want unauthorized-access, got %v", err)
	}
	wantUnknownKey(t, "attach", err)
}

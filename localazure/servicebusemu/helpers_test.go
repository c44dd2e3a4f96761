package servicebusemu

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
	"github.com/contoso/orderflow/localazure/tlsca"
)

// testEntities is the configuration most tests use.
func testEntities() UserConfig {
	return UserConfig{Namespaces: []NamespaceConfig{{
		Name: "sbemulatorns",
		Queues: []QueueConfig{
			{Name: "orders", Properties: QueueProperties{LockDuration: "PT1M", MaxDeliveryCount: 3}},
			{Name: "short-lock", Properties: QueueProperties{LockDuration: "PT1S", MaxDeliveryCount: 2}},
			{Name: "dedup", Properties: QueueProperties{RequiresDuplicateDetection: true, DuplicateDetectionHistoryTimeWindow: "PT1M"}},
			{Name: "expiring", Properties: QueueProperties{DefaultMessageTimeToLive: "PT1S", DeadLetteringOnMessageExpiration: true}},
			{Name: "bench"},
			{Name: "bench-recv"},
		},
		Topics: []TopicConfig{{
			Name: "order-events",
			Subscriptions: []SubscriptionConfig{
				{Name: "all"},
				{Name: "red", Rules: []RuleConfig{{Name: "red", Properties: RuleProperties{FilterType: "Sql",
					SqlFilter: &SqlExpression{SqlExpression: "color = 'red' AND qty > 3"}}}}},
				{Name: "corr", Rules: []RuleConfig{{Name: "c", Properties: RuleProperties{FilterType: "Correlation",
					CorrelationFilter: &CorrelationFilter{Label: "created", Properties: map[string]any{"region": "eu"}}}}}},
			},
		}},
	}}}
}

type testBroker struct {
	*Broker
	addr    string // host:port of the plain listener
	tlsAddr string
	ca      *tlsca.CA
	issuer  *authztest.Issuer
	connStr string
	ns      string
}

var sharedIssuer = authztest.NewIssuer()

// startBroker runs a broker on loopback with a plain and a TLS listener.
func startBroker(t testing.TB, mutate func(*Options)) *testBroker {
	t.Helper()
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		t.Fatal(err)
	}
	policy := authz.NewPolicy([]authz.Assignment{
		{PrincipalID: "sender", Role: authz.ServiceBusDataSender, Scope: "servicebus/orders"},
		{PrincipalID: "receiver", Role: authz.ServiceBusDataReceiver, Scope: "servicebus/orders"},
		{PrincipalID: "owner", Role: authz.ServiceBusDataOwner, Scope: "servicebus"},
		{PrincipalID: "subreader", Role: authz.ServiceBusDataReceiver, Scope: "servicebus/order-events/subscriptions/all"},
	})
	level := slog.LevelWarn
	if os.Getenv("SB_DEBUG") != "" {
		level = slog.LevelDebug
	}
	opts := Options{
		Namespace: "sb-test.servicebus.windows.net",
		Entities:  testEntities(),
		Verifier:  sharedIssuer,
		Policy:    policy,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	if mutate != nil {
		mutate(&opts)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := ca.ServerConfig(opts.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(ln)
	go b.Serve(tls.NewListener(raw, tlsConf))
	t.Cleanup(func() { b.Close() })
	tb := &testBroker{Broker: b, addr: ln.Addr().String(), tlsAddr: raw.Addr().String(), ca: ca, issuer: sharedIssuer, ns: opts.Namespace}
	tb.connStr = fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s;UseDevelopmentEmulator=true", tb.addr, EmulatorKey)
	return tb
}

// client returns a connection-string (SAS) client over plain AMQP.
func (tb *testBroker) client(t testing.TB) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(tb.connStr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// tokenClient returns an Entra-token client for principal oid over AMQPS.
func (tb *testBroker) tokenClient(t testing.TB, oid string) *azservicebus.Client {
	t.Helper()
	return tb.credClient(t, tb.issuer.Credential(oid))
}

func (tb *testBroker) credClient(t testing.TB, cred azcore.TokenCredential) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClient(tb.ns, cred, &azservicebus.ClientOptions{
		TLSConfig:      &tls.Config{RootCAs: tb.ca.Pool(), ServerName: tb.ns},
		CustomEndpoint: tb.tlsAddr,
		RetryOptions:   azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

package servicebusemu

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// emulatorConfig is in the shape of the official emulator's Config.json.
const emulatorConfig = `{
  "UserConfig": {
    "Namespaces": [{
      "Name": "sbemulatorns",
      "Queues": [{
        "Name": "orders",
        "Properties": {
          "DeadLetteringOnMessageExpiration": false,
          "DefaultMessageTimeToLive": "PT1H",
          "DuplicateDetectionHistoryTimeWindow": "PT20S",
          "ForwardDeadLetteredMessagesTo": "",
          "ForwardTo": "",
          "LockDuration": "PT1M",
          "MaxDeliveryCount": 3,
          "RequiresDuplicateDetection": false,
          "RequiresSession": false
        }
      }],
      "Topics": [{
        "Name": "order-events",
        "Properties": {"DefaultMessageTimeToLive": "PT1H", "DuplicateDetectionHistoryTimeWindow": "PT20S", "RequiresDuplicateDetection": false},
        "Subscriptions": [{
          "Name": "frontend",
          "Properties": {"DeadLetteringOnMessageExpiration": false, "DefaultMessageTimeToLive": "PT1H", "LockDuration": "PT1M", "MaxDeliveryCount": 3, "ForwardDeadLetteredMessagesTo": "", "ForwardTo": "", "RequiresSession": false},
          "Rules": [
            {"Name": "app-prop-filter-1", "Properties": {"FilterType": "Correlation", "CorrelationFilter": {"ContentType": "application/text", "CorrelationId": "id1", "Label": "subject1", "MessageId": "msgid1", "ReplyTo": "someQueue", "ReplyToSessionId": "sessionId", "SessionId": "session1", "To": "xyz", "Properties": {"prop1": "value1"}}}},
            {"Name": "sql-filter-1", "Properties": {"FilterType": "Sql", "SqlFilter": {"SqlExpression": "sys.MessageId = '123456' AND userProp1 = 'value1'"}}}
          ]
        }]
      }]
    }],
    "Logging": {"Type": "File"}
  }
}`

func TestEmulatorConfigParses(t *testing.T) {
	var doc struct{ UserConfig UserConfig }
	if err := json.Unmarshal([]byte(emulatorConfig), &doc); err != nil {
		t.Fatal(err)
	}
	uc := doc.UserConfig
	if err := uc.Validate(); err != nil {
		t.Fatal(err)
	}
	if uc.Namespaces[0].Queues[0].Properties.MaxDeliveryCount != 3 || uc.Logging.Type != "File" ||
		uc.Namespaces[0].Topics[0].Subscriptions[0].Rules[0].Properties.CorrelationFilter.Properties["prop1"] != "value1" {
		t.Fatalf("parsed %+v", uc)
	}
	b, err := New(Options{Entities: uc})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.MessageCount("order-events/Subscriptions/frontend"); !ok {
		t.Fatal("subscription missing")
	}
}

func TestValidateNamesFieldAndFix(t *testing.T) {
	q := func(p QueueProperties) UserConfig {
		return UserConfig{Namespaces: []NamespaceConfig{{Name: "ns", Queues: []QueueConfig{{Name: "a"}, {Name: "b", Properties: p}}}}}
	}
	cases := []struct {
		cfg  UserConfig
		want string
	}{
		{q(QueueProperties{LockDuration: "PT10M"}), `UserConfig.Namespaces[0].Queues[1].Properties.LockDuration: "PT10M" exceeds the 5 minute maximum; use at most PT5M`},
		{q(QueueProperties{DefaultMessageTimeToLive: "1 hour"}), `UserConfig.Namespaces[0].Queues[1].Properties.DefaultMessageTimeToLive: "1 hour" is not an ISO 8601 duration`},
		{q(QueueProperties{MaxDeliveryCount: -1}), `Queues[1].Properties.MaxDeliveryCount: -1 is negative`},
		{q(QueueProperties{ForwardTo: "nowhere"}), `Queues[1].Properties.ForwardTo: "nowhere" names no queue or topic`},
		{UserConfig{Namespaces: []NamespaceConfig{{Queues: []QueueConfig{{Name: "x"}, {Name: "X"}}}}}, `Queues[1].Name: "X" is already used`},
		{UserConfig{Namespaces: []NamespaceConfig{{Topics: []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{{Name: "s",
			Rules: []RuleConfig{{Name: "r", Properties: RuleProperties{FilterType: "Sql", SqlFilter: &SqlExpression{SqlExpression: "a = "}}}}}}}}}}},
			`Topics[0].Subscriptions[0].Rules[0]: Properties.SqlFilter.SqlExpression: unexpected end`},
		{UserConfig{Namespaces: []NamespaceConfig{{Topics: []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{{Name: "s",
			Rules: []RuleConfig{{Name: "r", Properties: RuleProperties{FilterType: "Sql", SqlFilter: &SqlExpression{SqlExpression: "1=1"},
				Action: &SqlExpression{SqlExpression: "UPDATE x = 1"}}}}}}}}}}},
			`Rules[0]: Properties.Action.SqlExpression: "UPDATE x = 1": unknown statement UPDATE; use SET or REMOVE`},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v\nwant it to contain %s", err, c.want)
		}
	}
}

func TestISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"PT1M": time.Minute, "P14D": 14 * 24 * time.Hour, "PT0.5S": 500 * time.Millisecond,
		"P1DT2H3M4S": 26*time.Hour + 3*time.Minute + 4*time.Second, "pt30s": 30 * time.Second} {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1M", "PT1X"} {
		if _, err := ParseISODuration(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSQLFilters(t *testing.T) {
	msg := func(props map[string]any, subject string) *msgData {
		return dataOf(&amqp.Message{Properties: &amqp.Properties{Subject: subject, MessageID: "m1"}, ApplicationProperties: props}, 0)
	}
	m := msg(map[string]any{"color": "red", "qty": int32(5), "price": 2.5, "name": "widget", "flag": true}, "created")
	cases := map[string]bool{
		"color = 'red' AND qty > 3":           true,
		"color = 'red' AND qty > 5":           false,
		"color <> 'blue' OR missing = 1":      true,
		"missing = 1":                         false,
		"NOT (missing = 1)":                   false, // unknown stays unknown
		"missing IS NULL":                     true,
		"color IS NOT NULL":                   true,
		"qty IN (1, 5, 9)":                    true,
		"color NOT IN ('red')":                false,
		"name LIKE 'wid%'":                    true,
		"name LIKE 'w_dget'":                  true,
		"name NOT LIKE '%x%'":                 true,
		"price * 2 = 5":                       true,
		"qty + 1 >= 6 AND price < 3":          true,
		"sys.Label = 'created'":               true,
		"sys.MessageId = 'm1'":                true,
		"user.color = 'red'":                  true,
		"flag = TRUE":                         true,
		"EXISTS(color)":                       true,
		"1 = 1":                               true,
		"(color = 'red' OR qty = 0) AND flag": true,
		"[color] = 'red'":                     true,
		"name = 'it''s'":                      false,
	}
	for expr, want := range cases {
		e, err := parseSQL(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if got := (sqlFilter{e}).match(m); got != want {
			t.Errorf("%s = %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{"color = ", "color = 'x", "qty IN 1", "AND", "a LIKE 1"} {
		if _, err := parseSQL(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

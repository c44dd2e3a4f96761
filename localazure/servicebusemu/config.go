package servicebusemu

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// UserConfig mirrors the "UserConfig" section of the official Service Bus
// emulator's Config.json, so one file configures either.
type UserConfig struct {
	Namespaces []NamespaceConfig `json:"Namespaces"`
	Logging    LoggingConfig     `json:"Logging"`
}

// LoggingConfig is the emulator's logging choice ("File" or "Console"); the
// broker logs through its slog.Logger whatever it says.
type LoggingConfig struct {
	Type string `json:"Type"`
}

// NamespaceConfig holds the entities of one namespace. The emulator supports
// exactly one namespace; so does this broker (its entities are served under
// whatever FQDN Options.Namespace names).
type NamespaceConfig struct {
	Name   string        `json:"Name"`
	Queues []QueueConfig `json:"Queues"`
	Topics []TopicConfig `json:"Topics"`
}

// QueueConfig is a queue.
type QueueConfig struct {
	Name       string          `json:"Name"`
	Properties QueueProperties `json:"Properties"`
}

// QueueProperties are a queue's (and a subscription's) settings. Durations are
// ISO 8601 (PT1M, P14D, PT0.5S).
type QueueProperties struct {
	DeadLetteringOnMessageExpiration    bool   `json:"DeadLetteringOnMessageExpiration"`
	DefaultMessageTimeToLive            string `json:"DefaultMessageTimeToLive,omitempty"`
	DuplicateDetectionHistoryTimeWindow string `json:"DuplicateDetectionHistoryTimeWindow,omitempty"`
	ForwardDeadLetteredMessagesTo       string `json:"ForwardDeadLetteredMessagesTo,omitempty"`
	ForwardTo                           string `json:"ForwardTo,omitempty"`
	LockDuration                        string `json:"LockDuration,omitempty"`
	MaxDeliveryCount                    int    `json:"MaxDeliveryCount,omitempty"`
	RequiresDuplicateDetection          bool   `json:"RequiresDuplicateDetection"`
	RequiresSession                     bool   `json:"RequiresSession"`
}

// TopicConfig is a topic with its subscriptions.
type TopicConfig struct {
	Name          string               `json:"Name"`
	Properties    TopicProperties      `json:"Properties"`
	Subscriptions []SubscriptionConfig `json:"Subscriptions"`
}

// TopicProperties are a topic's settings.
type TopicProperties struct {
	DefaultMessageTimeToLive            string `json:"DefaultMessageTimeToLive,omitempty"`
	DuplicateDetectionHistoryTimeWindow string `json:"DuplicateDetectionHistoryTimeWindow,omitempty"`
	RequiresDuplicateDetection          bool   `json:"RequiresDuplicateDetection"`
}

// SubscriptionConfig is a subscription and its rules. No rules means the
// default rule: every message matches.
type SubscriptionConfig struct {
	Name       string          `json:"Name"`
	Properties QueueProperties `json:"Properties"`
	Rules      []RuleConfig    `json:"Rules"`
}

// RuleConfig is a subscription rule.
type RuleConfig struct {
	Name       string         `json:"Name"`
	Properties RuleProperties `json:"Properties"`
}

// RuleProperties hold a rule's filter and optional action.
type RuleProperties struct {
	FilterType        string             `json:"FilterType"` // "Correlation" or "Sql"
	CorrelationFilter *CorrelationFilter `json:"CorrelationFilter,omitempty"`
	SqlFilter         *SqlExpression     `json:"SqlFilter,omitempty"`
	Action            *SqlExpression     `json:"Action,omitempty"`
}

// CorrelationFilter matches system properties and application properties by equality.
type CorrelationFilter struct {
	ContentType      string         `json:"ContentType,omitempty"`
	CorrelationID    string         `json:"CorrelationId,omitempty"`
	Label            string         `json:"Label,omitempty"`
	MessageID        string         `json:"MessageId,omitempty"`
	ReplyTo          string         `json:"ReplyTo,omitempty"`
	ReplyToSessionID string         `json:"ReplyToSessionId,omitempty"`
	SessionID        string         `json:"SessionId,omitempty"`
	To               string         `json:"To,omitempty"`
	Properties       map[string]any `json:"Properties,omitempty"`
}

// SqlExpression carries a SQL filter or action expression.
type SqlExpression struct {
	SqlExpression string `json:"SqlExpression"`
}

// Limits Service Bus enforces that the configuration is checked against.
const (
	maxLockDuration   = 5 * time.Minute
	defaultLock       = time.Minute
	defaultMaxDeliver = 10
	defaultDupWindow  = 10 * time.Minute
	maxDupWindow      = 7 * 24 * time.Hour
	// MaxMessageSize is the Standard tier's (and the emulator's) message size limit.
	MaxMessageSize = 256 * 1024
)

var entityName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,258}$`)

// Validate checks the configuration and names the first bad field with a fix.
func (c UserConfig) Validate() error {
	if len(c.Namespaces) > 1 {
		return fmt.Errorf("UserConfig.Namespaces: %d namespaces given; the Service Bus emulator and localazure serve exactly one, merge them into Namespaces[0]", len(c.Namespaces))
	}
	for ni, ns := range c.Namespaces {
		p := fmt.Sprintf("UserConfig.Namespaces[%d]", ni)
		names := map[string]string{}
		claim := func(path, name string) error {
			if !entityName.MatchString(name) {
				return fmt.Errorf("%s.Name: %q is not a valid entity name; use letters, digits, '.', '-' and '_', starting with a letter or digit", path, name)
			}
			if prev, dup := names[strings.ToLower(name)]; dup {
				return fmt.Errorf("%s.Name: %q is already used by %s (entity names are case-insensitive and shared by queues and topics); rename one", path, name, prev)
			}
			names[strings.ToLower(name)] = path
			return nil
		}
		for qi, q := range ns.Queues {
			qp := fmt.Sprintf("%s.Queues[%d]", p, qi)
			if err := claim(qp, q.Name); err != nil {
				return err
			}
			if err := q.Properties.validate(qp + ".Properties"); err != nil {
				return err
			}
		}
		for ti, t := range ns.Topics {
			tp := fmt.Sprintf("%s.Topics[%d]", p, ti)
			if err := claim(tp, t.Name); err != nil {
				return err
			}
			if _, err := durationField(tp+".Properties.DefaultMessageTimeToLive", t.Properties.DefaultMessageTimeToLive, 0); err != nil {
				return err
			}
			if _, err := durationField(tp+".Properties.DuplicateDetectionHistoryTimeWindow", t.Properties.DuplicateDetectionHistoryTimeWindow, maxDupWindow); err != nil {
				return err
			}
			subs := map[string]bool{}
			for si, s := range t.Subscriptions {
				sp := fmt.Sprintf("%s.Subscriptions[%d]", tp, si)
				if !entityName.MatchString(s.Name) || len(s.Name) > 50 {
					return fmt.Errorf("%s.Name: %q is not a valid subscription name; use up to 50 letters, digits, '.', '-' and '_'", sp, s.Name)
				}
				if subs[strings.ToLower(s.Name)] {
					return fmt.Errorf("%s.Name: %q appears twice in topic %q; rename one", sp, s.Name, t.Name)
				}
				subs[strings.ToLower(s.Name)] = true
				if err := s.Properties.validate(sp + ".Properties"); err != nil {
					return err
				}
				for ri, r := range s.Rules {
					rp := fmt.Sprintf("%s.Rules[%d]", sp, ri)
					if _, err := compileRule(r); err != nil {
						return fmt.Errorf("%s: %w", rp, err)
					}
				}
			}
		}
		// Forwarding targets must exist.
		check := func(path, target string) error {
			if target == "" {
				return nil
			}
			if _, ok := names[strings.ToLower(target)]; !ok {
				return fmt.Errorf("%s: %q names no queue or topic in this namespace; use the name of one", path, target)
			}
			return nil
		}
		for qi, q := range ns.Queues {
			qp := fmt.Sprintf("%s.Queues[%d].Properties", p, qi)
			if strings.EqualFold(q.Properties.ForwardTo, q.Name) {
				return fmt.Errorf("%s.ForwardTo: a queue cannot forward to itself; remove ForwardTo or name another entity", qp)
			}
			if err := check(qp+".ForwardTo", q.Properties.ForwardTo); err != nil {
				return err
			}
			if err := check(qp+".ForwardDeadLetteredMessagesTo", q.Properties.ForwardDeadLetteredMessagesTo); err != nil {
				return err
			}
		}
		for ti, t := range ns.Topics {
			for si, s := range t.Subscriptions {
				sp := fmt.Sprintf("%s.Topics[%d].Subscriptions[%d].Properties", p, ti, si)
				if strings.EqualFold(s.Properties.ForwardTo, t.Name) {
					return fmt.Errorf("%s.ForwardTo: a subscription cannot forward to its own topic; name another entity", sp)
				}
				if err := check(sp+".ForwardTo", s.Properties.ForwardTo); err != nil {
					return err
				}
				if err := check(sp+".ForwardDeadLetteredMessagesTo", s.Properties.ForwardDeadLetteredMessagesTo); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (q QueueProperties) validate(p string) error {
	d, err := durationField(p+".LockDuration", q.LockDuration, maxLockDuration)
	if err != nil {
		return err
	}
	_ = d
	if _, err := durationField(p+".DefaultMessageTimeToLive", q.DefaultMessageTimeToLive, 0); err != nil {
		return err
	}
	if _, err := durationField(p+".DuplicateDetectionHistoryTimeWindow", q.DuplicateDetectionHistoryTimeWindow, maxDupWindow); err != nil {
		return err
	}
	if q.MaxDeliveryCount < 0 {
		return fmt.Errorf("%s.MaxDeliveryCount: %d is negative; use at least 1 (default 10)", p, q.MaxDeliveryCount)
	}
	return nil
}

// durationField parses an ISO 8601 duration; limit > 0 is an upper bound.
func durationField(path, s string, limit time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := ParseISODuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an ISO 8601 duration (%v); write e.g. PT1M, PT30S or P1D", path, s, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: %q is not positive; use a positive duration such as PT1M", path, s)
	}
	if limit > 0 && d > limit {
		return 0, fmt.Errorf("%s: %q exceeds the %s maximum; use at most %s", path, s, humanDuration(limit), FormatISODuration(limit))
	}
	return d, nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d day", d/(24*time.Hour))
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minute", d/time.Minute)
	}
	return d.String()
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses an ISO 8601 duration such as PT5M, P14D or PT0.5S. A
// year counts 365 days and a month 30, as .NET's XmlConvert does.
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, fmt.Errorf("want P[nY][nM][nW][nD][T[nH][nM][nS]]")
	}
	units := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}
	var d time.Duration
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > 1<<40 {
			return 0, fmt.Errorf("number %q out of range", m[i+1])
		}
		d += time.Duration(n) * u
	}
	if m[7] != "" {
		f, err := strconv.ParseFloat(m[7], 64)
		if err != nil {
			return 0, err
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}

// FormatISODuration writes d as an ISO 8601 duration.
func FormatISODuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("P%dD", d/(24*time.Hour))
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}

// entitySettings are a queue's or subscription's effective settings.
type entitySettings struct {
	lockDuration     time.Duration
	maxDeliveryCount uint32
	ttl              time.Duration // 0 = never
	dlqOnExpiry      bool
	dupDetection     bool
	dupWindow        time.Duration
	forwardTo        string
	forwardDLQTo     string
	requiresSession  bool
}

func settingsOf(q QueueProperties) entitySettings {
	s := entitySettings{lockDuration: defaultLock, maxDeliveryCount: defaultMaxDeliver, dupWindow: defaultDupWindow,
		dlqOnExpiry: q.DeadLetteringOnMessageExpiration, dupDetection: q.RequiresDuplicateDetection,
		forwardTo: q.ForwardTo, forwardDLQTo: q.ForwardDeadLetteredMessagesTo, requiresSession: q.RequiresSession}
	if d, _ := ParseISODuration(q.LockDuration); d > 0 && q.LockDuration != "" {
		s.lockDuration = d
	}
	if q.MaxDeliveryCount > 0 {
		s.maxDeliveryCount = uint32(q.MaxDeliveryCount)
	}
	if d, _ := ParseISODuration(q.DefaultMessageTimeToLive); d > 0 && q.DefaultMessageTimeToLive != "" {
		s.ttl = d
	}
	if d, _ := ParseISODuration(q.DuplicateDetectionHistoryTimeWindow); d > 0 && q.DuplicateDetectionHistoryTimeWindow != "" {
		s.dupWindow = d
	}
	return s
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

const peekUsage = `usage:
  localazure peek <queue | topic/subscriptions/subscription> [--max 10] [--as workload]
Shows the messages of a queue or subscription of the running stack without locking or
removing them ($management peek, as azservicebus's PeekMessages): sequence number,
message id, delivery count (as azservicebus reports it: the delivery a receive would
be, so 1 for a message nobody has had; one more per abandon or expired lock), enqueued
time, locked-until (while a receiver holds the message) and the start of the body. It runs as the workload holding Azure Service Bus
Data Receiver (or Owner) on the entity in localazure.json, unless --as names one.
`

// peekBodyBytes is how much of each body is shown.
const peekBodyBytes = 48

// peekCmd prints the messages of a queue or subscription.
func peekCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("localazure peek", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	as := fs.String("as", "", "the workload whose identity peeks (default: the one holding a Receiver role on the entity)")
	max := fs.Int("max", 10, "at most this many messages, from the oldest")
	entity, args := positional(args)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if entity == "" && fs.NArg() > 0 {
		entity = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{fmt.Errorf("peek: unexpected argument %q", fs.Arg(0))}
	}
	if entity == "" {
		return usageError{fmt.Errorf("peek: name a queue or a subscription, e.g. `localazure peek orders`\n%s", peekUsage)}
	}
	if *max < 1 {
		return usageError{fmt.Errorf("peek: --max %d: peek at least one message", *max)}
	}
	topic, sub, isSub, err := splitEntity(entity)
	if err != nil {
		return usageError{err}
	}

	configPath, stateDir, err := common.resolve()
	if err != nil {
		return err
	}
	cfg, err := stackconfig.Load(configPath)
	if err != nil {
		return err
	}
	wl, err := pickWorkload(cfg, *as, "servicebus/"+strings.Trim(entity, "/"), []string{authz.ServiceBusDataReceiver, authz.ServiceBusDataOwner})
	if err != nil {
		return err
	}
	env, err := readWorkloadEnv(stateDir, wl)
	if err != nil {
		return err
	}
	nsVar := cfg.LocalAzure.EndpointEnv.ServiceBus
	namespace := env[nsVar]
	if nsVar == "" || namespace == "" {
		return fmt.Errorf("the env file of %s has no Service Bus namespace: set LocalAzure.endpointEnv.serviceBus in %s and restart `localazure up`", wl, configPath)
	}
	cred, _, err := workloadCredential(env)
	if err != nil {
		return fmt.Errorf("credential of workload %s: %w", wl, err)
	}
	tlsConf, err := tlsConfigFor(env)
	if err != nil {
		return err
	}
	client, err := azservicebus.NewClient(namespace, cred, &azservicebus.ClientOptions{
		TLSConfig:    tlsConf,
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 1, RetryDelay: 200 * time.Millisecond}, // a command: fail fast
	})
	if err != nil {
		return fmt.Errorf("service bus client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	defer client.Close(context.Background())

	var receiver *azservicebus.Receiver
	if isSub {
		receiver, err = client.NewReceiverForSubscription(topic, sub, nil)
	} else {
		receiver, err = client.NewReceiverForQueue(topic, nil)
	}
	if err != nil {
		return fmt.Errorf("receiver for %s: %w", entity, err)
	}
	defer receiver.Close(context.Background())
	// PeekMessages continues from where the last peek of this receiver ended; one call
	// from the start returns up to max messages.
	from := int64(0)
	msgs, err := receiver.PeekMessages(ctx, *max, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
	if err != nil {
		return fmt.Errorf("peek %s as workload %s: %w", entity, wl, hintStackDown(err))
	}
	fmt.Fprintf(stderr, "%s: %d message(s), peeked as workload %s\n", entity, len(msgs), wl)
	printPeeked(stdout, msgs)
	return nil
}

// splitEntity reads "queue" or "topic/subscriptions/sub".
func splitEntity(entity string) (topicOrQueue, sub string, isSub bool, err error) {
	parts := strings.Split(strings.Trim(entity, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] != "":
		return parts[0], "", false, nil
	case len(parts) == 3 && strings.EqualFold(parts[1], "subscriptions") && parts[0] != "" && parts[2] != "":
		return parts[0], parts[2], true, nil
	}
	return "", "", false, fmt.Errorf("peek: %q is neither a queue nor topic/subscriptions/subscription (e.g. order-events/subscriptions/frontend)", entity)
}

func printPeeked(w io.Writer, msgs []*azservicebus.ReceivedMessage) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tMESSAGE ID\tDELIVERIES\tENQUEUED\tLOCKED UNTIL\tBODY")
	stamp := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.Local().Format("15:04:05.000")
	}
	for _, m := range msgs {
		seq := "-"
		if m.SequenceNumber != nil {
			seq = strconv.FormatInt(*m.SequenceNumber, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", seq, m.MessageID, m.DeliveryCount, stamp(m.EnqueuedTime), stamp(m.LockedUntil), bodyStart(m.Body))
	}
	tw.Flush()
}

// bodyStart is the first bytes of a body as one quoted line: text as is, other bytes
// escaped, so that no body can break the table.
func bodyStart(b []byte) string {
	more := ""
	if len(b) > peekBodyBytes {
		b, more = b[:peekBodyBytes], "…"
		for len(b) > 0 && !utf8.Valid(b) { // do not cut a character in two
			b = b[:len(b)-1]
		}
	}
	return strconv.Quote(string(b)) + more
}

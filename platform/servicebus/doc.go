// Package servicebus implements the messaging side of orderflow on Azure Service Bus
// (azservicebus): Publisher sends OrderPlaced to the orders queue and EventPublisher
// sends OrderCompleted to the order-events topic, both as structured-mode CloudEvents
// whose MessageId is the event ID (so duplicate detection drops re-sends) and whose
// application properties carry the W3C traceparent (and Diagnostic-Id) of a producer
// span; StartProcess continues it in a consumer span. Receiver wraps a peek-lock
// receiver for the worker and the frontend's event subscription, and Loop is the
// receive loop both run on it.
package servicebus

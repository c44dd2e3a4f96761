// Package orders is the orderflow domain: orders, their items and attachments, the
// product catalog that prices them, signed receipts, the CloudEvents the system emits,
// the domain error codes, and the interfaces of the services the domain needs
// (OrderStore, AttachmentStore, ReceiptStore, Publisher, EventPublisher, SecretSource).
//
// The package imports no Azure SDK and no other adapter: platform/cosmos, platform/blob,
// platform/servicebus and platform/keyvault implement its interfaces, and tests use
// in-memory fakes. Every error a caller should act on is an *Error carrying one of the
// E* codes, which the HTTP layer maps to status codes in exactly one place.
package orders

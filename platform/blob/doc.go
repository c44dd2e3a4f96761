// Package blob implements orders.AttachmentStore and orders.ReceiptStore on Azure Blob
// Storage (azblob): attachments are streamed in bounded blocks, never buffered whole;
// receipts are created with If-None-Match: * so an order can only ever have one.
package blob

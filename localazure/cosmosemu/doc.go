// Package cosmosemu is a local stand-in for the Azure Cosmos DB for NoSQL gateway,
// served as an http.Handler over TLS by the localazure launcher. It speaks the
// documented wire protocol rather than only what the Go SDK sends, so that the
// .NET (gateway mode), Java (gateway mode), Python and JavaScript SDKs work too:
// the database account document, databases, containers, partition key ranges,
// items (create, upsert, read, replace, delete, patch), transactional batches,
// SQL queries with paging and query plans, the change feed, time to live, unique
// keys, offers, master-key and Microsoft Entra authentication with data-plane RBAC,
// and optional snapshots to disk.
//
// Everything lives in memory in one partition key range ("0", covering the whole
// hash space), which is why the service's cross-partition query restrictions
// (ORDER BY, aggregates, DISTINCT needing a client-side query plan) never apply here:
// one range can always answer the whole query. The query language itself is in the
// query sub-package. See localazure/README.md (Cosmos DB section) for the comparison with Azure and
// the official emulator.
package cosmosemu

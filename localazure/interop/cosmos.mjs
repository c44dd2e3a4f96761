// Cosmos DB NoSQL with @azure/cosmos. argv[2] = "key" (the emulator key, COSMOS_KEY) or
// "aad" (the workload's token). Works in COSMOS_DATABASE / COSMOS_CONTAINER
// (partition key /customerId) on items of its own customers.
import { CosmosClient } from "@azure/cosmos";
import { credential, env, main, report, step } from "./common.mjs";

const mode = process.argv[2];
const run = `${mode}-${Date.now()}`;

main(async () => {
  const client = mode === "key"
    ? new CosmosClient({ endpoint: env.COSMOS_ENDPOINT, key: env.COSMOS_KEY })
    : new CosmosClient({ endpoint: env.COSMOS_ENDPOINT, aadCredentials: credential() });
  const container = client.database(env.COSMOS_DATABASE).container(env.COSMOS_CONTAINER);
  const custA = `${run}-a`, custB = `${run}-b`;
  const out = { run };

  await step(out, "create", async () => {
    const r = await container.items.create({ id: "o1", customerId: custA, total: 10, status: "new" });
    return { statusCode: r.statusCode, etag: !!r.etag, id: r.resource.id, ts: typeof r.resource._ts };
  });
  await step(out, "read", async () => {
    const r = await container.item("o1", custA).read();
    return { statusCode: r.statusCode, total: r.resource && r.resource.total };
  });
  await step(out, "readMissing", async () => {
    const r = await container.item("nope", custA).read();
    return { statusCode: r.statusCode, resource: r.resource ?? null };
  });
  await step(out, "upsert", async () => {
    const a = await container.items.upsert({ id: "o2", customerId: custA, total: 20, status: "new" });
    const b = await container.items.upsert({ id: "o2", customerId: custA, total: 25, status: "new" });
    return { first: a.statusCode, second: b.statusCode, total: b.resource.total };
  });
  await step(out, "replaceEtag", async () => {
    const cur = await container.item("o1", custA).read();
    const ok = await container.item("o1", custA).replace({ ...cur.resource, status: "paid" }, { accessCondition: { type: "IfMatch", condition: cur.etag } });
    let stale;
    try {
      await container.item("o1", custA).replace({ ...cur.resource, status: "stale" }, { accessCondition: { type: "IfMatch", condition: cur.etag } });
      stale = "allowed";
    } catch (e) { stale = e.code; }
    return { ok: ok.statusCode, status: ok.resource.status, stale };
  });
  await step(out, "seed", async () => {
    for (let i = 3; i <= 7; i++) await container.items.create({ id: `o${i}`, customerId: i % 2 ? custA : custB, total: i * 10, status: "new" });
    return "ok";
  });
  await step(out, "queryParams", async () => {
    const { resources } = await container.items.query({
      query: "SELECT c.id, c.total FROM c WHERE c.customerId = @cust AND c.total >= @min ORDER BY c.total DESC",
      parameters: [{ name: "@cust", value: custA }, { name: "@min", value: 20 }],
    }).fetchAll();
    return resources.map((r) => r.id);
  });
  await step(out, "paging", async () => {
    const it = container.items.query({ query: "SELECT * FROM c WHERE c.customerId = @cust ORDER BY c.id", parameters: [{ name: "@cust", value: custA }] },
      { maxItemCount: 2, partitionKey: custA });
    const pages = [];
    let continuation = false;
    while (it.hasMoreResults()) {
      const p = await it.fetchNext();
      if (p.resources.length) pages.push(p.resources.map((r) => r.id));
      if (p.continuationToken) continuation = true;
    }
    return { pages, continuation };
  });
  await step(out, "crossPartition", async () => {
    const { resources } = await container.items.query({
      query: "SELECT c.id, c.customerId FROM c WHERE STARTSWITH(c.customerId, @run) ORDER BY c.total",
      parameters: [{ name: "@run", value: run }],
    }).fetchAll();
    return resources.map((r) => `${r.customerId === custA ? "a" : "b"}:${r.id}`);
  });
  await step(out, "patch", async () => {
    const r = await container.item("o3", custA).patch([
      { op: "set", path: "/status", value: "shipped" },
      { op: "incr", path: "/total", value: 5 },
      { op: "add", path: "/tags", value: ["x"] },
    ]);
    return { statusCode: r.statusCode, status: r.resource.status, total: r.resource.total, tags: r.resource.tags };
  });
  await step(out, "batch", async () => {
    const r = await container.items.batch([
      { operationType: "Create", resourceBody: { id: "b1", customerId: custB, total: 1 } },
      { operationType: "Upsert", resourceBody: { id: "b2", customerId: custB, total: 2 } },
      { operationType: "Read", id: "b1" },
      { operationType: "Patch", id: "b2", resourceBody: { operations: [{ op: "set", path: "/total", value: 3 }] } },
      { operationType: "Delete", id: "b1" },
    ], custB);
    return { statusCode: r.code, results: r.result.map((x) => x.statusCode) };
  });
  await step(out, "batchFails", async () => {
    const r = await container.items.batch([
      { operationType: "Create", resourceBody: { id: "b3", customerId: custB } },
      { operationType: "Create", resourceBody: { id: "b2", customerId: custB } }, // exists: 409
    ], custB);
    const b3 = await container.item("b3", custB).read();
    return { statusCode: r.code, results: r.result.map((x) => x.statusCode), b3: b3.statusCode };
  });
  await step(out, "delete", async () => {
    const r = await container.item("o2", custA).delete();
    const again = await container.item("o2", custA).read();
    return { statusCode: r.statusCode, after: again.statusCode };
  });
  report(out);
});

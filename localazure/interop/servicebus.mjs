// Service Bus with @azure/service-bus. argv[2] = "token": the AMQPS listener with
// workload identity (frontend sends to orders, backend receives; backend publishes to
// order-events, frontend receives from its subscription); "connstr": the emulator
// connection string (plain AMQP, SAS), one client for everything.
import { ServiceBusClient } from "@azure/service-bus";
import { credential, env, errInfo, main, report, step } from "./common.mjs";

const mode = process.argv[2];
const run = `${mode}-${Date.now()}`;
const queue = env.ORDERS_QUEUE, topic = env.EVENTS_TOPIC, sub = env.EVENTS_SUBSCRIPTION;

function client(prefix, options) {
  if (mode === "connstr") return new ServiceBusClient(env.SERVICEBUS_CONNECTION_STRING, options);
  // SERVICEBUS_NAMESPACE is host:port; the SDK connects with TLS to it.
  return new ServiceBusClient(env.SERVICEBUS_NAMESPACE, credential(prefix), options);
}

const msg = (n, extra = {}) => ({ body: { run, n }, messageId: `${run}-${n}`, subject: "order", applicationProperties: { run, n }, ...extra });
const mine = (m) => m.applicationProperties && m.applicationProperties.run === run;

// receiveN receives until it has count messages of this run (others are completed
// away: leftovers of an earlier run) or waitMs passes.
async function receiveN(receiver, count, waitMs = 5000) {
  const got = [];
  const until = Date.now() + waitMs;
  while (got.length < count && Date.now() < until) {
    const ms = await receiver.receiveMessages(count - got.length, { maxWaitTimeInMs: Math.min(1000, Math.max(1, until - Date.now())) });
    for (const m of ms) {
      if (mine(m)) got.push(m);
      else if (receiver.receiveMode === "peekLock") await receiver.completeMessage(m);
    }
  }
  return got;
}

const brief = (m) => ({ n: m.body.n, messageId: m.messageId, subject: m.subject, deliveryCount: m.deliveryCount, seq: Number(m.sequenceNumber), hasLock: !!m.lockToken });

main(async () => {
  const out = { run };
  const sender = client("");
  const receiverSide = mode === "token" ? client("BACKEND_") : sender;
  const s = sender.createSender(queue);
  await step(out, "sendOne", () => s.sendMessages(msg(1)));
  await step(out, "sendBatch", async () => {
    const batch = await s.createMessageBatch();
    for (const n of [2, 3, 4]) if (!batch.tryAddMessage(msg(n))) throw new Error("batch full");
    await s.sendMessages(batch);
    return { count: batch.count };
  });

  const r = receiverSide.createReceiver(queue);
  await step(out, "peek", async () => (await r.peekMessages(50)).filter(mine).map((m) => m.body.n));

  await step(out, "settle", async () => {
    const ms = await receiveN(r, 4);
    const res = { received: ms.map(brief).sort((a, b) => a.n - b.n) };
    for (const m of ms) {
      if (m.body.n === 1 || m.body.n === 4) await r.completeMessage(m);
      if (m.body.n === 2) await r.abandonMessage(m);
      if (m.body.n === 3) await r.deadLetterMessage(m, { deadLetterReason: "bad-order", deadLetterErrorDescription: "rejected by interop test" });
    }
    const again = await receiveN(r, 1);
    res.redelivered = again.map(brief);
    for (const m of again) await r.completeMessage(m);
    return res;
  });

  await step(out, "deadLetter", async () => {
    const dlq = receiverSide.createReceiver(queue, { subQueueType: "deadLetter" });
    const ms = await receiveN(dlq, 1);
    const res = ms.map((m) => ({ ...brief(m), reason: m.deadLetterReason, description: m.deadLetterErrorDescription, source: m.deadLetterSource }));
    for (const m of ms) await dlq.completeMessage(m);
    await dlq.close();
    return res;
  });

  await step(out, "schedule", async () => {
    const soon = new Date(Date.now() + 1500), later = new Date(Date.now() + 3600_000);
    const [seqSoon] = await s.scheduleMessages(msg(10), soon);
    const [seqLater] = await s.scheduleMessages(msg(11), later);
    const peeked = (await r.peekMessages(50)).filter(mine).map((m) => ({ n: m.body.n, state: m.state, scheduled: m.scheduledEnqueueTimeUtc ? m.scheduledEnqueueTimeUtc.toISOString() : null }));
    await s.cancelScheduledMessages(seqLater);
    const ms = await receiveN(r, 2, 4000); // only n=10 should come
    for (const m of ms) await r.completeMessage(m);
    return { seqs: [Number(seqSoon), Number(seqLater)], peeked, received: ms.map((m) => m.body.n) };
  });

  await step(out, "receiveAndDelete", async () => {
    await s.sendMessages([msg(20), msg(21)]);
    const rd = receiverSide.createReceiver(queue, { receiveMode: "receiveAndDelete" });
    const ms = await receiveN(rd, 2);
    await rd.close();
    const left = (await r.peekMessages(50)).filter(mine).map((m) => m.body.n);
    return { received: ms.map(brief).map((b) => ({ n: b.n, hasLock: b.hasLock })), left };
  });

  await step(out, "subscribe", async () => {
    // 31 has no messageId: the broker assigns one, which the SDK's lock renewal needs.
    await s.sendMessages([msg(30), msg(31, { messageId: undefined })]);
    const rs = receiverSide.createReceiver(queue);
    const got = [], ids = {};
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("subscribe: timed out")), 8000);
      rs.subscribe({
        async processMessage(m) {
          if (mine(m)) { got.push(m.body.n); ids[m.body.n] = m.messageId; }
          if (got.length === 2) { clearTimeout(timer); resolve(); }
        },
        async processError(args) { clearTimeout(timer); reject(args.error); },
      });
    });
    await rs.close();
    // autoCompleteMessages (default) completed them.
    const left = (await r.peekMessages(50)).filter(mine).map((m) => m.body.n);
    return { received: got.sort(), ids, left };
  });

  await step(out, "topic", async () => {
    const publisher = mode === "token" ? receiverSide : sender; // backend: Data Sender on order-events
    const subscriber = sender; // frontend: Data Receiver on its subscription
    const ts = publisher.createSender(topic);
    await ts.sendMessages(msg(40, { subject: "order-created" }));
    const tr = subscriber.createReceiver(topic, sub);
    const ms = await receiveN(tr, 1);
    for (const m of ms) await tr.completeMessage(m);
    await ts.close(); await tr.close();
    return ms.map(brief);
  });

  if (mode === "token") {
    // The JavaScript SDK retries UnauthorizedError (credentials may have been rotated),
    // with 30 s back-off by default, as against Azure: no retries for the refusals.
    const noRetry = { retryOptions: { maxRetries: 0 } };
    const frontendOnce = client("", noRetry), backendOnce = client("BACKEND_", noRetry);
    // The frontend is Data Sender on orders, not Receiver.
    await step(out, "frontendReceive", async () => {
      const fr = frontendOnce.createReceiver(queue);
      try {
        await fr.receiveMessages(1, { maxWaitTimeInMs: 2000 });
        return "allowed";
      } finally { await fr.close().catch(() => {}); }
    });
    // ... and the backend is not a sender on orders.
    await step(out, "backendSend", async () => {
      const bs = backendOnce.createSender(queue);
      try { await bs.sendMessages(msg(50)); return "allowed"; } finally { await bs.close().catch(() => {}); }
    });
    await frontendOnce.close();
    await backendOnce.close();
  }
  await r.close();
  await s.close();
  await sender.close();
  if (receiverSide !== sender) await receiverSide.close();
  report(out);
});

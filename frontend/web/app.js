// Orderflow page: plain browser JavaScript, no build step, no third-party code.
// It talks only to this service's /api; every error is RFC 9457 problem+json.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const TERMINAL = new Set(["Completed", "Failed", "Rejected", "Cancelled"]);
  let products = [];
  let events = null; // the EventSource of the order being watched

  // money formats integer cents; the demo catalog has no currency.
  const money = (cents) => (cents / 100).toFixed(2);

  // ---- problem+json -------------------------------------------------------

  // readProblem turns a failed response into {title, detail, errors}; a body
  // that is not problem+json still yields a readable message.
  async function readProblem(resp) {
    let p = { title: resp.statusText || "Request failed", status: resp.status, errors: [] };
    const type = resp.headers.get("Content-Type") || "";
    if (type.includes("json")) {
      try { p = Object.assign(p, await resp.json()); } catch (_) { /* keep the status text */ }
    }
    if (!Array.isArray(p.errors)) p.errors = [];
    return p;
  }

  function problemText(p) {
    return p.detail ? `${p.title}: ${p.detail}` : p.title;
  }

  // ---- field errors -------------------------------------------------------

  function clearErrors(form) {
    form.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    $("form-error").hidden = true;
    $("form-error").textContent = "";
  }

  // controlFor finds the error element and the control a problem's field names:
  // "customerId", "note", "file", "items", "items[2].quantity", "items[0].productId".
  function controlFor(field) {
    const m = /^items\[(\d+)\](?:\.(\w+))?$/.exec(field);
    if (m) {
      const row = $("item-rows").children[Number(m[1])];
      if (!row) return { error: $("items-error"), control: null };
      const name = m[2] === "quantity" ? "quantity" : "productId";
      const control = row.querySelector(`[name=${name}]`);
      return { error: control.parentElement.querySelector(".error"), control };
    }
    const byField = {
      customerId: ["customerId-error", "customerId"],
      note: ["note-error", "note"],
      file: ["attachment-error", "attachment"],
      attachment: ["attachment-error", "attachment"],
      items: ["items-error", null],
    }[field];
    if (!byField) return null;
    return { error: $(byField[0]), control: byField[1] ? $(byField[1]) : null };
  }

  // showProblem puts each field error next to its control and anything else
  // in the form's alert; it focuses the first bad control for keyboard users.
  function showProblem(p) {
    let first = null;
    const unplaced = [];
    for (const fe of p.errors) {
      const c = controlFor(fe.field);
      if (!c) { unplaced.push(`${fe.field}: ${fe.message}`); continue; }
      c.error.textContent = c.error.textContent ? `${c.error.textContent}; ${fe.message}` : fe.message;
      if (c.control) {
        c.control.setAttribute("aria-invalid", "true");
        first = first || c.control;
      }
    }
    if (p.errors.length === 0 || unplaced.length > 0) {
      const fe = $("form-error");
      fe.textContent = [problemText(p), ...unplaced].join(" — ");
      fe.hidden = false;
    }
    if (first) first.focus();
  }

  // ---- the order form -----------------------------------------------------

  let rowSeq = 0;
  function addItemRow(productId, quantity) {
    const tpl = $("item-row").content.firstElementChild.cloneNode(true);
    const n = ++rowSeq;
    const select = tpl.querySelector("select");
    const qty = tpl.querySelector("input");
    const [pl, ql] = tpl.querySelectorAll("label");
    select.id = `item-${n}-product`; pl.htmlFor = select.id;
    qty.id = `item-${n}-quantity`; ql.htmlFor = qty.id;
    const [pe, qe] = tpl.querySelectorAll(".error");
    pe.id = `${select.id}-error`; select.setAttribute("aria-describedby", pe.id);
    qe.id = `${qty.id}-error`; qty.setAttribute("aria-describedby", qe.id);
    for (const p of products) {
      const o = document.createElement("option");
      o.value = p.id;
      o.textContent = p.unitPrice ? `${p.name} — ${money(p.unitPrice)}` : p.name;
      select.append(o);
    }
    if (productId) select.value = productId;
    if (quantity !== undefined) qty.value = quantity;
    tpl.querySelector(".remove").addEventListener("click", () => {
      tpl.remove();
      const rows = $("item-rows").children;
      if (rows.length > 0) rows[rows.length - 1].querySelector("select").focus();
      else $("add-item").focus();
    });
    $("item-rows").append(tpl);
    return tpl;
  }

  function readOrder() {
    const items = [...$("item-rows").children].map((row) => {
      const raw = row.querySelector("[name=quantity]").value.trim();
      // Send what the user typed when it is not a whole number, so the API's
      // own validation names the field rather than the page guessing.
      const q = /^-?\d+$/.test(raw) ? Number(raw) : raw;
      return { productId: row.querySelector("[name=productId]").value, quantity: q };
    });
    const order = { customerId: $("customerId").value.trim(), items };
    const note = $("note").value.trim();
    if (note) order.note = note;
    return order;
  }

  async function submitOrder(ev) {
    ev.preventDefault();
    const form = $("order-form");
    clearErrors(form);
    const submit = $("submit");
    submit.disabled = true;
    try {
      const resp = await fetch("/api/orders", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(readOrder()),
      });
      if (!resp.ok) { showProblem(await readProblem(resp)); return; }
      const order = await resp.json();
      watchOrder(order);
      const file = $("attachment").files[0];
      if (file) await uploadAttachment(order.id, file);
      $("recent-customer").value = order.customerId;
      loadRecent(order.customerId, "reset");
    } catch (err) {
      showProblem({ title: "Network error", detail: String(err), errors: [] });
    } finally {
      submit.disabled = false;
    }
  }

  async function uploadAttachment(orderId, file) {
    const line = $("attachment-line");
    line.hidden = false;
    line.textContent = `Uploading ${file.name}…`;
    const body = new FormData();
    body.append("file", file, file.name);
    const resp = await fetch(`/api/orders/${encodeURIComponent(orderId)}/attachments`, { method: "POST", body });
    if (!resp.ok) {
      const p = await readProblem(resp);
      if (p.errors.length === 0) p.errors = [{ field: "file", message: problemText(p) }];
      showProblem(p);
      line.textContent = `Attachment not stored: ${problemText(p)}`;
      return;
    }
    const a = await resp.json();
    line.textContent = `Attached ${a.name} (${a.size} bytes, ${a.contentType}).`;
    $("attachment").value = "";
  }

  // ---- live status over SSE ----------------------------------------------

  function setStatus(status, reason) {
    const v = $("status-value");
    v.textContent = reason ? `${status} — ${reason}` : status;
    v.dataset.status = status;
    const steps = [...document.querySelectorAll(".steps li")];
    const idx = steps.findIndex((li) => li.dataset.step === status);
    steps.forEach((li, i) => {
      li.classList.toggle("done", idx >= 0 && i < idx);
      li.classList.toggle("current", i === idx);
      li.classList.toggle("failed", status === "Failed" && i === steps.length - 1);
    });
    if (status === "Completed") $("receipt-line").hidden = false;
  }

  // clientIds are the services' client IDs as the identity panel last read them,
  // so each order step can name the identity that did it.
  const clientIds = { frontend: "", backend: "" };
  let watched = null; // the order being shown, for re-rendering its steps
  let orderPoll = null; // re-reads the order while it is not yet sent

  const clock = (iso) => new Date(iso).toLocaleTimeString();

  // showDelivery explains a Pending order: stored but not yet sent to the backend
  // (the outbox), and by when the frontend's reconciler retries; or sent and
  // waiting for the backend.
  function showDelivery(order) {
    const hint = $("delivery-hint");
    const d = order.delivery;
    hint.classList.remove("overdue");
    hint.hidden = true;
    if (!d || order.status !== "Pending") return;
    hint.dataset.sent = String(d.sent);
    if (d.sent) {
      hint.textContent = "Sent to the backend; waiting for it to sign the receipt and complete the order.";
    } else if (!d.retryBy) {
      hint.textContent = "Stored, not yet sent to the backend, and the frontend's reconciler is disabled (RECONCILE_INTERVAL=0): nothing will re-send it.";
    } else if (d.overdue) {
      hint.classList.add("overdue");
      hint.textContent = `Stored, not yet sent to the backend; the frontend's retry due by ${clock(d.retryBy)} has not succeeded yet and is tried again each reconciler pass (see the frontend's log).`;
    } else {
      hint.textContent = `Stored, not yet sent to the backend; the frontend retries by ${clock(d.retryBy)}.`;
    }
    hint.hidden = false;
  }

  function showSteps(order) {
    const ol = $("order-steps");
    ol.replaceChildren();
    for (const st of order.steps || []) {
      const li = document.createElement("li");
      li.className = st.done ? "done" : "todo";
      li.dataset.step = st.step;
      li.dataset.by = st.by;
      const when = st.done && st.at ? ` at ${clock(st.at)}` : "";
      li.append(`${st.done ? "" : "(not yet) "}${st.detail}${when} — by the ${st.by}`);
      if (clientIds[st.by]) {
        const code = document.createElement("code");
        code.textContent = clientIds[st.by];
        li.append(" (", code, ")");
      }
      if (st.attribution === "design") li.title = "The order does not record who did this step; the code and the roles let only this identity do it.";
      ol.append(li);
    }
  }

  async function refreshOrder(id) {
    try {
      const resp = await fetch(`/api/orders/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
      if (!resp.ok || !watched || watched.id !== id) return;
      watched = await resp.json();
      showDelivery(watched);
      showSteps(watched);
      if (watched.status !== "Pending" || (watched.delivery && watched.delivery.sent)) stopOrderPoll();
    } catch (_) { /* the next poll or the stream's status will do */ }
  }

  function stopOrderPoll() {
    if (orderPoll) clearInterval(orderPoll);
    orderPoll = null;
  }

  function watchOrder(order) {
    if (events) events.close();
    stopOrderPoll();
    watched = order;
    showDelivery(order);
    showSteps(order);
    // The stream carries statuses only; while the order is not yet sent, re-read
    // it so the hint flips when the reconciler sends it.
    if (order.status === "Pending" && order.delivery && !order.delivery.sent) {
      orderPoll = setInterval(() => refreshOrder(order.id), 5000);
    }
    $("status-card").hidden = false;
    $("status-order-id").textContent = order.id;
    $("status-total").textContent = order.total ? `Total ${money(order.total)}` : "";
    $("receipt-line").hidden = true;
    $("receipt").hidden = true;
    $("attachment-line").hidden = true;
    const link = $("receipt-link");
    link.href = `/api/orders/${encodeURIComponent(order.id)}/receipt`;
    link.dataset.orderId = order.id;
    setStatus(order.status || "Pending");
    events = new EventSource(`/api/orders/${encodeURIComponent(order.id)}/events`);
    events.addEventListener("status", (e) => {
      const s = JSON.parse(e.data);
      if (s.orderId !== order.id) return;
      setStatus(s.status, s.reason);
      refreshOrder(order.id);
      if (TERMINAL.has(s.status)) {
        // The server ends the stream after a terminal status; closing here
        // keeps EventSource from reconnecting.
        events.close();
        loadRecent($("recent-customer").value.trim(), "same");
      }
    });
  }

  async function showReceipt(ev) {
    ev.preventDefault();
    const id = ev.currentTarget.dataset.orderId;
    const box = $("receipt");
    const verdict = $("receipt-verdict");
    box.hidden = false;
    verdict.className = "verdict";
    verdict.textContent = "Checking the receipt's signature…";
    $("receipt-body").textContent = "";
    const resp = await fetch(`/api/orders/${encodeURIComponent(id)}/receipt`, { headers: { Accept: "application/json" } });
    if (!resp.ok) {
      const p = await readProblem(resp);
      verdict.classList.add("bad");
      verdict.textContent = `Not verified: ${problemText(p)}`;
      return;
    }
    const r = await resp.json();
    verdict.classList.add(r.verified ? "ok" : "bad");
    verdict.textContent = r.verified
      ? `Signature verified (key version ${r.keyVersion}).`
      : "Signature does NOT verify.";
    $("receipt-body").textContent = JSON.stringify(r.receipt, null, 2);
  }

  // ---- recent orders, paged with opaque continuation tokens ---------------

  const pager = { customer: "", tokens: [""], page: 0, next: "" };

  async function loadRecent(customer, mode) {
    if (!customer) return;
    if (mode === "reset" || customer !== pager.customer) {
      Object.assign(pager, { customer, tokens: [""], page: 0, next: "" });
    } else if (mode === "next" && pager.next) {
      pager.tokens[pager.page + 1] = pager.next;
      pager.page++;
    } else if (mode === "prev" && pager.page > 0) {
      pager.page--;
    }
    const q = new URLSearchParams({ limit: "5" });
    const tok = pager.tokens[pager.page];
    if (tok) q.set("continuation", tok);
    const errBox = $("recent-error");
    errBox.hidden = true;
    const resp = await fetch(`/api/customers/${encodeURIComponent(customer)}/orders?${q}`, { headers: { Accept: "application/json" } });
    if (!resp.ok) {
      errBox.textContent = problemText(await readProblem(resp));
      errBox.hidden = false;
      return;
    }
    const body = await resp.json();
    pager.next = body.continuation || "";
    const rows = $("recent-rows");
    rows.replaceChildren();
    for (const o of body.orders || []) {
      const tr = document.createElement("tr");
      const cells = [o.id, o.status, (o.items || []).map((i) => `${i.quantity}× ${i.productId}`).join(", "), o.createdAt ? new Date(o.createdAt).toLocaleString() : ""];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 0) {
          const a = document.createElement("a");
          a.href = "#";
          a.textContent = text;
          a.addEventListener("click", (e) => { e.preventDefault(); watchOrder(o); });
          const code = document.createElement("code");
          code.append(a);
          td.append(code);
        } else {
          td.textContent = text;
          if (i === 3) td.className = "col-placed";
        }
        tr.append(td);
      });
      rows.append(tr);
    }
    $("recent-empty").hidden = rows.children.length > 0;
    $("recent-prev").disabled = pager.page === 0;
    $("recent-next").disabled = !pager.next;
    $("recent-page").textContent = `Page ${pager.page + 1}`;
  }

  // ---- identity panels ---------------------------------------------------

  // renderIdentity fills one service's panel from platform/identity's view.
  function renderIdentity(panel, id) {
    const dl = panel.querySelector(".identity");
    const deps = panel.querySelector(".deps");
    const perms = panel.querySelector(".perms");
    const tok = id.token || {};
    const rows = [
      ["Service", id.service],
      ["Client ID", id.clientId],
      ["Tenant", id.tenantId],
      ["Authority host", id.authorityHost],
      ["Token issuer", tok.issuer],
      ["Token subject", tok.subject],
      ["Token audience", (tok.audience || []).join(", ")],
      ["Token expires", tok.expiresAt],
      ["Token", id.tokenError],
    ];
    dl.replaceChildren();
    for (const [k, v] of rows) {
      if (!v) continue;
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    }
    deps.replaceChildren();
    for (const d of id.dependencies || []) {
      const li = document.createElement("li");
      li.className = d.reachable ? "ok" : "bad";
      li.textContent = d.reachable
        ? `${d.name}: reachable (${d.latencyMs} ms)`
        : `${d.name}: not reachable${d.error ? ` — ${d.error}` : ""}`;
      deps.append(li);
    }
    perms.replaceChildren();
    const p = id.permissions;
    if (!p) {
      const li = document.createElement("li");
      li.textContent = "not probed by this service";
      perms.append(li);
      return;
    }
    for (const it of p.items || []) {
      const li = document.createElement("li");
      li.className = it.status;
      li.dataset.check = it.check;
      const role = document.createElement("span");
      role.className = "role";
      role.textContent = it.entra ? it.role : "emulator key (no role)";
      const verdict = { ok: "allowed", denied: "denied", error: "could not check", "not-probed": "not probed (writes)" }[it.status] || it.status;
      li.append(`${it.check}: ${verdict} — `, role, ` on ${it.scope}`);
      li.title = [it.detail, it.fix ? `fix: ${it.fix}` : "", `assigned in ${it.assignedIn}`].filter(Boolean).join("\n");
      perms.append(li);
    }
    const when = document.createElement("li");
    when.className = "muted small";
    when.textContent = `checked ${clock(p.checkedAt)}`;
    perms.append(when);
  }

  function clearIdentity(panel, message) {
    panel.querySelector(".identity").replaceChildren();
    panel.querySelector(".perms").replaceChildren();
    const deps = panel.querySelector(".deps");
    deps.replaceChildren();
    const li = document.createElement("li");
    li.className = "bad";
    li.textContent = message;
    deps.append(li);
  }

  async function loadFrontendIdentity() {
    const panel = $("identity-frontend");
    const resp = await fetch("/api/identity", { headers: { Accept: "application/json" } });
    if (!resp.ok) { clearIdentity(panel, problemText(await readProblem(resp))); return; }
    const id = await resp.json();
    clientIds.frontend = id.clientId || "";
    renderIdentity(panel, id);
    if (id.traceView) {
      $("trace-view-link").href = id.traceView;
      $("trace-view").hidden = false;
    }
  }

  // The backend's view comes through the frontend (GET /api/identity/backend):
  // the browser cannot reach the backend's health port on AKS.
  async function loadBackendIdentity() {
    const panel = $("identity-backend");
    const state = panel.querySelector(".backend-state");
    state.classList.remove("bad");
    const resp = await fetch("/api/identity/backend", { headers: { Accept: "application/json" } });
    if (!resp.ok) { clearIdentity(panel, problemText(await readProblem(resp))); return; }
    const b = await resp.json();
    panel.dataset.reachable = String(b.reachable);
    if (!b.reachable) {
      state.classList.add("bad");
      state.textContent = b.configured
        ? `Backend not reachable at ${b.url}: ${b.error}`
        : `Backend not configured: ${b.error}`;
      for (const sel of [".identity", ".deps", ".perms"]) panel.querySelector(sel).replaceChildren();
      return;
    }
    state.textContent = `Read from the backend's health port (${b.url}) by the frontend.`;
    clientIds.backend = b.identity.clientId || "";
    renderIdentity(panel, b.identity);
  }

  async function loadIdentity() {
    await Promise.all([loadFrontendIdentity(), loadBackendIdentity()].map((p) => p.catch(() => {})));
    if (watched) showSteps(watched);
  }

  // ---- start ---------------------------------------------------------------

  async function start() {
    try {
      const resp = await fetch("/api/products", { headers: { Accept: "application/json" } });
      if (resp.ok) products = await resp.json();
    } catch (_) { /* the form still works with an empty product list */ }
    addItemRow();
    $("add-item").addEventListener("click", () => addItemRow().querySelector("select").focus());
    $("order-form").addEventListener("submit", submitOrder);
    $("receipt-link").addEventListener("click", showReceipt);
    $("recent-form").addEventListener("submit", (e) => { e.preventDefault(); loadRecent($("recent-customer").value.trim(), "reset"); });
    $("recent-next").addEventListener("click", () => loadRecent(pager.customer, "next"));
    $("recent-prev").addEventListener("click", () => loadRecent(pager.customer, "prev"));
    $("identity-refresh").addEventListener("click", loadIdentity);
    loadRecent($("recent-customer").value.trim(), "reset");
    loadIdentity();
    document.body.dataset.ready = "true";
  }

  start();
})();

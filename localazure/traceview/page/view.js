"use strict";
// The page polls the launcher's JSON endpoints; nothing is loaded from elsewhere.
const $ = (sel) => document.querySelector(sel);
let current = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

async function loadTraces() {
  const traces = await getJSON("api/traces");
  const list = $("#trace-list");
  list.replaceChildren(...traces.map((t) => {
    const li = el("li", { "data-trace": t.traceId }, t.root,
      el("small", {}, `${t.services.join(" → ")} · ${t.spans} spans · ${t.durationMs.toFixed(1)} ms` + (t.errors ? ` · ${t.errors} errors` : "")));
    if (t.traceId === current) li.classList.add("on");
    li.addEventListener("click", () => showTrace(t.traceId));
    return li;
  }));
  if (current === null && traces.length) showTrace(traces[0].traceId);
}

let accessLog = [];

// standIn guesses which stand-in a client or producer span called, from the
// attributes the Azure SDK spans and orderflow's Service Bus spans carry.
function standIn(span) {
  const a = span.attributes || {};
  const ns = (a["az.namespace"] || "").toLowerCase();
  if (a["messaging.system"] === "servicebus") return "servicebus";
  if (ns.includes("documentdb") || /cosmos/i.test(span.name)) return "cosmos";
  if (ns.includes("keyvault") || /secret/i.test(span.name)) return "keyvault";
  if (ns.includes("storage") || /blob/i.test(span.name)) return "blob";
  return "";
}

// who names the identity a span's call used: the access log's entry for the same
// stand-in whose time falls inside the span (the RBAC decision of that call).
function who(span) {
  const svc = standIn(span);
  if (!svc || (span.kind !== "client" && span.kind !== "producer" && span.kind !== "consumer")) {
    const a = span.attributes || {};
    return a["http.route"] || a["messaging.destination.name"] || "";
  }
  const from = Date.parse(span.start) - 5, to = Date.parse(span.end) + 5;
  const hit = accessLog.find((e) => e.service === svc && Date.parse(e.time) >= from && Date.parse(e.time) <= to);
  return hit ? `as ${hit.workload}: ${hit.decision} by ${hit.role || "no role"}` : svc;
}

async function showTrace(id) {
  current = id;
  const spans = await getJSON("api/traces/" + id);
  const t0 = Math.min(...spans.map((s) => Date.parse(s.start)));
  const t1 = Math.max(...spans.map((s) => Date.parse(s.end)));
  const total = Math.max(t1 - t0, 1);
  $("#trace-title").textContent = `Trace ${id} (${total.toFixed(0)} ms)`;
  $("#timeline").replaceChildren(...spans.map((s) => {
    const left = ((Date.parse(s.start) - t0) / total) * 100;
    const width = ((Date.parse(s.end) - Date.parse(s.start)) / total) * 100;
    const bar = el("div", { class: `bar ${s.service}${s.error ? " error" : ""}`, title: `${s.name}: ${(Date.parse(s.end) - Date.parse(s.start)).toFixed(1)} ms` });
    bar.style.left = left + "%";
    bar.style.width = width + "%";
    return el("div", { class: "row", "data-span": s.spanId },
      el("div", { class: "label" }, el("span", { class: "svc" }, s.service), s.name, " ", el("span", { class: "who" }, who(s))),
      el("div", { class: "lane" }, bar));
  }));
  document.querySelectorAll("#trace-list li").forEach((li) => li.classList.toggle("on", li.dataset.trace === id));
}

async function loadAccess() {
  accessLog = await getJSON("api/access");
  const q = new URLSearchParams(new FormData($("#filters")));
  const rows = await getJSON("api/access?" + q);
  $("#access-rows").replaceChildren(...rows.reverse().map((a) => el("tr", { class: a.decision },
    el("td", {}, new Date(a.time).toLocaleTimeString()), el("td", {}, a.workload), el("td", {}, a.service),
    el("td", {}, a.operation), el("td", {}, a.resource), el("td", {}, a.decision), el("td", {}, a.role),
    el("td", {}, a.status ? String(a.status) : ""), el("td", {}, a.duration ? (a.duration / 1e6).toFixed(1) : ""))));
}

function show(which) {
  $("#traces").hidden = which !== "traces";
  $("#access").hidden = which !== "access";
  $("#show-traces").classList.toggle("on", which === "traces");
  $("#show-access").classList.toggle("on", which === "access");
}

$("#show-traces").addEventListener("click", () => show("traces"));
$("#show-access").addEventListener("click", () => show("access"));
$("#filters").addEventListener("input", loadAccess);
if (location.hash === "#access") show("access");
const traceParam = new URLSearchParams(location.search).get("trace");
if (traceParam) current = traceParam;

async function tick() {
  try {
    await loadAccess();
    await loadTraces();
    if (current) await showTrace(current);
  } catch (e) {
    console.warn(e);
  }
}
tick();
setInterval(tick, 2000);

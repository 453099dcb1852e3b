// The GoMs API console: reads the server's OpenAPI document and calls its
// routes. Unary calls use fetch; server streams, Server-Sent Events
// (EventSource for GET routes, fetch with Accept: text/event-stream for
// others); client and bidi streams, a WebSocket on the route. Every error
// is shown as the google.rpc.Status the server sent.
"use strict";

const codeNames = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
  "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

let doc = null;      // the OpenAPI document
let active = null;   // what the current call must close (EventSource, WebSocket, AbortController)

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function resolve(schema) {
  for (let i = 0; schema && schema.$ref && i < 20; i++) {
    schema = doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")];
  }
  return schema || {};
}

// example builds a JSON value a request can start from: every field of
// the schema with an empty value of its type.
function example(schema, depth) {
  schema = resolve(schema);
  if (depth > 4) return null;
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const o = {};
      for (const [k, v] of Object.entries(schema.properties || {})) {
        if (!resolve(v).readOnly) o[k] = example(v, depth + 1);
      }
      return o;
    }
    case "array": return [];
    case "string": return schema.format === "int64" || schema.format === "uint64" ? "0" : "";
    case "integer": case "number": return 0;
    case "boolean": return false;
    default: return schema.properties ? example({ ...schema, type: "object" }, depth) : null;
  }
}

// kindOf tells how an operation is called.
function kindOf(op) {
  switch (op["x-goms-streaming"]) {
    case "client": case "bidi": return "websocket";
    case "server": return "sse";
    default: return "unary";
  }
}
const kindLabel = { unary: "", sse: "server stream", websocket: "stream · WebSocket" };

function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const verb of ["get", "post", "put", "patch", "delete"]) {
      if (item[verb]) ops.push({ path, verb, op: item[verb], kind: kindOf(item[verb]) });
    }
  }
  return ops;
}

function renderRoutes() {
  const nav = document.getElementById("routes");
  nav.replaceChildren();
  const byTag = new Map();
  for (const o of operations()) {
    const tag = (o.op.tags && o.op.tags[0]) || "routes";
    if (!byTag.has(tag)) byTag.set(tag, []);
    byTag.get(tag).push(o);
  }
  for (const [tag, ops] of byTag) {
    nav.append(el("h2", { text: tag }));
    for (const o of ops) {
      const b = el("button", { type: "button", "data-operation": o.op.operationId || "" },
        el("span", { class: "verb", text: o.verb.toUpperCase() }),
        el("span", { class: "path", text: o.path }),
        el("span", { class: "kind", text: kindLabel[o.kind] }));
      b.addEventListener("click", () => {
        for (const x of nav.querySelectorAll("button")) x.removeAttribute("aria-current");
        b.setAttribute("aria-current", "true");
        renderCall(o);
      });
      nav.append(b);
    }
  }
  if (!byTag.size) nav.append(el("p", { class: "muted", text: "This server has no HTTP routes." }));
}

function stop() {
  if (!active) return;
  if (active.close) active.close(); else if (active.abort) active.abort();
  active = null;
}

function renderCall(o) {
  stop();
  const sec = document.getElementById("call");
  const params = (o.op.parameters || []).filter((p) => p.in === "path" || p.in === "query");
  const inputs = params.map((p) => {
    const input = el("input", { name: p.name, "data-in": p.in, placeholder: p.in === "path" ? "required" : "optional" });
    return [el("label", { text: `${p.name} (${p.in})`, title: p.description || "" }), input];
  }).flat();
  const bodySchema = o.op.requestBody && (o.op.requestBody.content["application/json"] || {}).schema;
  const body = bodySchema ? el("textarea", { id: "body", spellcheck: "false" }) : null;
  if (body) body.value = JSON.stringify(example(bodySchema, 0), null, 2);
  const actions = el("div", { class: "actions" });
  const status = el("div", { id: "status" });
  const out = el("div", { id: "output" });
  sec.replaceChildren(
    el("h2", { text: (o.op.operationId || "").replace("_", ".") }),
    el("div", { class: "path" }, el("span", { class: "verb", text: o.verb.toUpperCase() + " " }), o.path),
    el("p", { class: "desc", text: o.op.description || o.op.summary || "" }),
    ...inputs,
    body ? el("label", { for: "body", text: o.kind === "websocket" ? "Message (JSON)" : "Body (JSON)" }) : null,
    body, actions, status, out);

  const url = () => {
    let path = o.path;
    const q = new URLSearchParams();
    for (const i of sec.querySelectorAll("input[data-in]")) {
      if (i.dataset.in === "path") {
        path = path.replace(new RegExp(`\\{${i.name}(=[^}]*)?\\}`), encodeURIComponent(i.value));
      } else if (i.value !== "") {
        q.append(i.name, i.value);
      }
    }
    const qs = q.toString();
    return path + (qs ? "?" + qs : "");
  };
  const show = { status, out };
  if (o.kind === "websocket") wsActions(o, actions, body, url, show);
  else {
    const send = el("button", { type: "button", id: "send", text: o.kind === "sse" ? "Watch" : "Send" });
    send.addEventListener("click", () => (o.kind === "sse" ? watch(o, body, url(), show) : call(o, body, url(), show)));
    actions.append(send);
    if (o.kind === "sse") {
      const end = el("button", { type: "button", class: "plain", text: "Stop" });
      end.addEventListener("click", () => { stop(); setStatus(show, "stopped", ""); });
      actions.append(end);
    }
  }
}

function setStatus(show, text, cls) {
  show.status.textContent = text;
  show.status.className = cls;
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

// showError shows a google.rpc.Status body.
function showError(show, httpStatus, text) {
  let st = null;
  try { st = JSON.parse(text); } catch { /* not JSON */ }
  const code = st && Number.isInteger(st.code) ? `${st.code} ${codeNames[st.code] || ""}` : "";
  setStatus(show, `${httpStatus ? httpStatus + " · " : ""}${code}`.trim() || "error", "err");
  show.out.append(el("pre", { class: "err", text: pretty(text) }));
}

async function call(o, body, url, show) {
  stop();
  show.out.replaceChildren();
  setStatus(show, "…", "");
  const init = { method: o.verb.toUpperCase(), headers: {} };
  if (body) { init.body = body.value; init.headers["Content-Type"] = "application/json"; }
  const ac = new AbortController();
  init.signal = ac.signal;
  active = ac;
  try {
    const resp = await fetch(url, init);
    const text = await resp.text();
    if (resp.ok) {
      setStatus(show, `${resp.status} · 0 OK`, "ok");
      show.out.append(el("pre", { id: "answer", text: pretty(text) }));
    } else {
      showError(show, resp.status, text);
    }
  } catch (e) {
    if (e.name !== "AbortError") setStatus(show, `network error: ${e.message}`, "err");
  }
}

function streamLog(show) {
  const log = el("ol", { id: "log" });
  show.out.replaceChildren(log);
  return (data) => log.append(el("li", {}, el("pre", { text: pretty(data) })));
}

// watch follows a server stream as Server-Sent Events.
function watch(o, body, url, show) {
  stop();
  const add = streamLog(show);
  let n = 0;
  setStatus(show, "streaming…", "");
  if (o.verb === "get") {
    const es = new EventSource(url);
    active = es;
    es.onmessage = (e) => { n++; add(e.data); setStatus(show, `streaming… ${n} messages`, ""); };
    es.addEventListener("error", (e) => {
      es.close();
      if (active === es) active = null;
      if (e.data) showError(show, 0, e.data);            // the server's event: error
      else setStatus(show, `stream ended · ${n} messages`, "ok"); // the connection closed
    });
    return;
  }
  // EventSource sends GET only: read the events with fetch.
  const ac = new AbortController();
  active = ac;
  const init = { method: o.verb.toUpperCase(), headers: { Accept: "text/event-stream" }, signal: ac.signal };
  if (body) { init.body = body.value; init.headers["Content-Type"] = "application/json"; }
  (async () => {
    const resp = await fetch(url, init);
    if (!resp.ok) { showError(show, resp.status, await resp.text()); return; }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        const type = (ev.match(/^event: ?(.*)$/m) || [])[1] || "message";
        const data = ev.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
        if (!data) continue;
        if (type === "error") { showError(show, 0, data); return; }
        n++; add(data); setStatus(show, `streaming… ${n} messages`, "");
      }
    }
    setStatus(show, `stream ended · ${n} messages`, "ok");
  })().catch((e) => { if (e.name !== "AbortError") setStatus(show, `network error: ${e.message}`, "err"); });
}

// wsActions drives a client or bidi stream over a WebSocket: open, send
// messages one by one, end the input (an empty message), close.
function wsActions(o, actions, body, url, show) {
  const open = el("button", { type: "button", id: "open", text: "Open" });
  const send = el("button", { type: "button", id: "send", text: "Send message", disabled: "" });
  const end = el("button", { type: "button", class: "plain", id: "end", text: "End input", disabled: "" });
  actions.append(open, send, end);
  const enable = (on) => { for (const b of [send, end]) b.disabled = !on; open.disabled = on; };
  open.addEventListener("click", () => {
    stop();
    const add = streamLog(show);
    const ws = new WebSocket(location.origin.replace(/^http/, "ws") + url());
    active = ws;
    setStatus(show, "connecting…", "");
    ws.onopen = () => { enable(true); setStatus(show, "open: send messages, then end the input", ""); };
    ws.onmessage = (e) => add(e.data);
    ws.onclose = (e) => {
      enable(false);
      if (active === ws) active = null;
      if (e.code === 1000) { setStatus(show, "1000 · 0 OK", "ok"); return; }
      const code = e.code >= 4000 && e.code <= 4016 ? e.code - 4000 : null;
      if (code !== null) showError(show, 0, JSON.stringify({ code, message: e.reason, details: [] }));
      else setStatus(show, `closed ${e.code} ${e.reason}`, "err");
    };
  });
  send.addEventListener("click", () => {
    try { active.send(JSON.stringify(JSON.parse(body.value))); } catch (e) { setStatus(show, `not JSON: ${e.message}`, "err"); }
  });
  end.addEventListener("click", () => active && active.send(""));
}

async function load() {
  const path = document.body.dataset.openapi;
  try {
    const resp = await fetch(path);
    if (!resp.ok) throw new Error(`${path}: ${resp.status}`);
    doc = await resp.json();
  } catch (e) {
    document.getElementById("routes").replaceChildren(el("p", { class: "muted", text: `Cannot read the API: ${e.message}` }));
    return;
  }
  document.getElementById("title").textContent = (doc.info && doc.info.title) || "API console";
  document.getElementById("version").textContent = doc.info && doc.info.version ? `version ${doc.info.version}` : "";
  document.title = document.getElementById("title").textContent;
  renderRoutes();
}

load();

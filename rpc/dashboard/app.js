// tqdb's dashboard. Everything it shows comes from the REST API of the
// server that serves it (the gRPC API's messages in protobuf's JSON
// mapping: uint64 fields are strings, bytes are base64).
"use strict";

const state = {
  collection: null,   // the CollectionInfo shown in detail
  key: sessionStorage.getItem("tqdb-api-key") || "",
  pages: [],          // the point browser's previous page offsets
  nextOffset: null,   // its next page's, null after the last
};

const $ = (id) => document.getElementById(id);

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!error);
}

// One REST call; rejects with "CODE: message" on an error answer.
async function api(method, path, body) {
  const headers = {"Content-Type": "application/json"};
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    if (res.status === 401) $("key-form").hidden = false;
    const err = json && json.error ? json.error : {code: String(res.status), message: text};
    throw new Error(err.code + ": " + err.message);
  }
  return json;
}

function bytes(n) {
  n = Number(n || 0);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; ++u; }
  return (u === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[u];
}

// A payload (base64 of opaque bytes, JSON by convention) as text.
function payloadText(b64) {
  if (!b64) return "";
  const raw = atob(b64);
  const arr = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; ++i) arr[i] = raw.charCodeAt(i);
  return new TextDecoder("utf-8", {fatal: false}).decode(arr);
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function methodName(m) {
  return String(m || "").replace(/^METHOD_/, "").toLowerCase();
}

async function loadCollections() {
  const body = $("collections").tBodies[0];
  const list = await api("GET", "/collections");
  body.textContent = "";
  let total = 0, limit = 0;
  for (const c of list.collections) {
    const tr = document.createElement("tr");
    tr.className = "selectable";
    tr.dataset.name = c.name;
    cell(tr, c.name);
    cell(tr, Number(c.count).toLocaleString(), "num");
    cell(tr, c.dim, "num");
    cell(tr, String(c.metric).replace(/^METRIC_/, "").toLowerCase());
    cell(tr, methodName(c.quantizer.method) + " " + c.quantizer.bits + "b");
    cell(tr, c.training ? "training" : (c.trained ? "trained (gen " + c.generation + ")" : "untrained"));
    cell(tr, c.nlist, "num");
    cell(tr, c.trained ? Number(c.lists.imbalance).toFixed(2) : "", "num");
    cell(tr, bytes(c.memory.bytes), "num");
    cell(tr, bytes(c.disk_bytes), "num");
    tr.addEventListener("click", () => showCollection(c.name));
    body.appendChild(tr);
    total = Number(c.memory.total_bytes);
    limit = Number(c.memory.limit_bytes);
  }
  $("memory-total").textContent = list.collections.length === 0 ? "No collections yet." :
      "Memory of all collections: " + bytes(total) +
      (limit > 0 ? " of the " + bytes(limit) + " limit" : " (no limit)");
  setStatus(list.collections.length + " collection(s)");
  if (state.collection) {
    const still = list.collections.find((c) => c.name === state.collection.name);
    if (still) renderDetail(still);
  }
}

function renderHistogram(info) {
  const svg = $("histogram");
  svg.textContent = "";
  const buckets = (info.lists && info.lists.size_histogram) || [];
  if (!info.trained || buckets.length === 0) {
    $("histogram-note").textContent = "Not trained yet: no IVF lists.";
    return;
  }
  const ns = "http://www.w3.org/2000/svg";
  const w = Number(svg.getAttribute("width")), h = Number(svg.getAttribute("height"));
  const max = Math.max(1, ...buckets.map((b) => Number(b.lists)));
  const bw = (w - 10) / buckets.length;
  buckets.forEach((b, i) => {
    const bh = (h - 30) * Number(b.lists) / max;
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("class", "bar");
    r.setAttribute("x", 5 + i * bw);
    r.setAttribute("y", h - 20 - bh);
    r.setAttribute("width", Math.max(1, bw - 2));
    r.setAttribute("height", bh);
    const t = document.createElementNS(ns, "title");
    t.textContent = b.lists + " lists of size <= " + b.le;
    r.appendChild(t);
    svg.appendChild(r);
  });
  for (const [x, label, anchor] of [[5, "0", "start"], [w - 5, buckets[buckets.length - 1].le, "end"]]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("class", "axis");
    t.setAttribute("x", x);
    t.setAttribute("y", h - 5);
    t.setAttribute("text-anchor", anchor);
    t.textContent = label;
    svg.appendChild(t);
  }
  $("histogram-note").textContent = info.nlist + " lists, sizes " + info.lists.min_size +
      " to " + info.lists.max_size + ", imbalance " + Number(info.lists.imbalance).toFixed(2) +
      (info.retrain_recommended ? " (retrain recommended: " + info.retrain_reason + ")" : "");
}

function renderDetail(info) {
  state.collection = info;
  $("detail").hidden = false;
  $("detail-name").textContent = info.name;
  for (const tr of $("collections").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.name === info.name);
  }
  renderHistogram(info);
  const dl = $("memory");
  dl.textContent = "";
  const m = info.memory;
  for (const [k, v] of [["collection", bytes(m.bytes)], ["of it the index", bytes(m.index_bytes)],
                        ["reserved", bytes(m.reserved_bytes)], ["all collections", bytes(m.total_bytes)],
                        ["limit", Number(m.limit_bytes) > 0 ? bytes(m.limit_bytes) : "none"],
                        ["on disk", bytes(info.disk_bytes)],
                        ["code bytes per vector", info.bytes_per_vector]]) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function showCollection(name) {
  const info = await api("GET", "/collections/" + encodeURIComponent(name));
  renderDetail(info);
  $("results-section").hidden = true;
  state.pages = [];
  $("page-from").value = 0;
  await loadPoints();
}

// A page of points in id order from the id in "from" (Points.Scroll),
// matching the filter box when it holds one (Qdrant's JSON syntax). The
// offsets of the pages shown before are kept for Previous.
async function loadPoints() {
  const name = state.collection.name;
  const from = Math.max(0, Number($("page-from").value) || 0);
  const size = Math.min(1000, Math.max(1, Number($("page-size").value) || 20));
  const req = {offset: String(from), limit: size, with_payload: true};
  const text = $("page-filter").value.trim();
  if (text !== "") {
    try {
      req.filter = JSON.parse(text);
    } catch (e) {
      throw new Error("INVALID_ARGUMENT: the filter is not JSON (" + e.message + ")");
    }
  }
  const got = await api("POST", "/collections/" + encodeURIComponent(name) +
                        "/points/scroll", req);
  const body = $("points").tBodies[0];
  body.textContent = "";
  for (const p of got.points) {
    const tr = document.createElement("tr");
    cell(tr, p.id, "num");
    cell(tr, payloadText(p.payload), "payload");
    const td = cell(tr, "");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "search-by";
    b.textContent = "search by this point";
    b.addEventListener("click", () => searchBy(p.id).catch(showError));
    td.appendChild(b);
    body.appendChild(tr);
  }
  state.nextOffset = got.next_page_offset === undefined ? null : got.next_page_offset;
  $("page-next").disabled = state.nextOffset === null;
  $("page-prev").disabled = state.pages.length === 0;
  const unindexed = (got.unindexed_fields || []).length > 0
      ? " (no index on " + got.unindexed_fields.join(", ") + ": payloads read)" : "";
  $("points-note").textContent = got.points.length + " points from id " + from +
      (text !== "" ? " matching the filter" + unindexed : "") + " (" +
      Number(state.collection.count).toLocaleString() + " points in all)";
}

async function searchBy(id) {
  const name = encodeURIComponent(state.collection.name);
  const got = await api("POST", "/collections/" + name + "/points",
                        {ids: [String(id)], with_vectors: true});
  if (got.points.length === 0) throw new Error("NOT_FOUND: point " + id + " is gone");
  const vector = got.points[0].vector;
  if (!vector || vector.length === 0) {
    throw new Error("FAILED_PRECONDITION: the collection keeps no raw vectors (store_vectors false)");
  }
  const limit = Math.min(100, Math.max(1, Number($("limit").value) || 10));
  const res = await api("POST", "/collections/" + name + "/points/search", {
    vector, limit, with_payload: true,
    params: {rescore: $("rescore").checked},
  });
  $("results-section").hidden = false;
  $("query-id").textContent = id;
  const body = $("results").tBodies[0];
  body.textContent = "";
  res.points.forEach((p, i) => {
    const tr = document.createElement("tr");
    cell(tr, i + 1, "num");
    cell(tr, p.id, "num");
    cell(tr, Number(p.score).toFixed(4), "num");
    cell(tr, payloadText(p.payload), "payload");
    body.appendChild(tr);
  });
  $("results-note").textContent = res.points.length + " neighbours in " +
      Number(res.time_ms).toFixed(2) + " ms (server time)";
  setStatus("searched by point " + id);
}

async function loadBench() {
  const res = await fetch("bench.svg", {method: "HEAD"});
  if (!res.ok) return;
  $("bench").src = "bench.svg";
  $("bench-section").hidden = false;
}

function showError(e) {
  setStatus(String(e.message || e), true);
}

$("refresh").addEventListener("click", () => loadCollections().catch(showError));
$("page-prev").addEventListener("click", () => {
  if (state.pages.length === 0) return;
  $("page-from").value = state.pages.pop();
  loadPoints().catch(showError);
});
$("page-next").addEventListener("click", () => {
  if (state.nextOffset === null) return;
  state.pages.push($("page-from").value);
  $("page-from").value = state.nextOffset;
  loadPoints().catch(showError);
});
$("page-filter-apply").addEventListener("click", () => {
  state.pages = [];
  $("page-from").value = 0;
  loadPoints().catch(showError);
});
$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.key = $("api-key").value;
  sessionStorage.setItem("tqdb-api-key", state.key);
  $("key-form").hidden = true;
  loadCollections().catch(showError);
});

loadCollections().catch(showError);
loadBench().catch(() => {});

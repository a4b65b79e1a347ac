// credgraph neighbourhood viewer: dependency-free SVG, served by the API itself.
// The API key is asked once per browser tab, kept in sessionStorage (gone when the
// tab closes, never in a cookie or the address) and sent as X-API-Key on every
// request. Colour: the node's total risk in the current run (green 0 .. red 1).
"use strict";
(function () {
  const KEY = "credgraph.apiKey";
  const SVG = "http://www.w3.org/2000/svg";
  const params = new URLSearchParams(location.search);
  const startDepth = Math.min(3, Math.max(1, parseInt(params.get("depth") || "2", 10) || 2));
  const limit = Math.min(500, Math.max(1, parseInt(params.get("limit") || "150", 10) || 150));
  const centreId = decodeURIComponent(location.pathname.replace(/^.*\/ui\/subjects\//, ""));
  const svg = document.getElementById("graph");
  const detail = document.getElementById("detail");
  const status = document.getElementById("status");
  const nodes = new Map(); // key -> node {key,id,kind,label,risk,trust_score,x,y,vx,vy,expanded}
  const edges = new Map(); // key -> edge {key,source,target,kind,amount,share}
  let selected = null;

  function key() { return sessionStorage.getItem(KEY); }

  async function api(path) {
    const res = await fetch(path, { headers: { "X-API-Key": key() || "", "Accept": "application/json" } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = (body && body.error) || { message: res.statusText, code: String(res.status) };
      if (res.status === 401) { askKey(e.message); }
      throw new Error(e.message + (e.hint ? " (" + e.hint + ")" : ""));
    }
    return body;
  }

  function askKey(message) {
    document.getElementById("keyform").hidden = false;
    document.getElementById("forget").hidden = true;
    status.textContent = message || "enter an API key";
  }

  function colour(n) {
    if (!n.risk) return "#9aa0a6";
    const r = Math.max(0, Math.min(1, n.risk.total));
    return "hsl(" + Math.round(120 * (1 - r)) + " 60% 42%)";
  }

  function merge(data, around) {
    let added = 0;
    const origin = around ? nodes.get(around) : null;
    for (const n of data.nodes) {
      if (nodes.has(n.key)) continue;
      const a = Math.random() * 2 * Math.PI, d = 30 + Math.random() * 40;
      n.x = (origin ? origin.x : 0) + Math.cos(a) * d;
      n.y = (origin ? origin.y : 0) + Math.sin(a) * d;
      n.vx = 0; n.vy = 0; n.expanded = false;
      nodes.set(n.key, n); added++;
    }
    for (const e of data.edges) edges.set(e.key, e);
    const cut = data.truncated ? " · cut by the " + data.truncated + " limit" : "";
    status.textContent = nodes.size + " nodes, " + edges.size + " edges" + cut;
    return added;
  }

  // A few hundred steps of a plain force layout: springs on edges, repulsion between
  // all pairs (n <= 500), a pull to the centre. Deterministic enough to read.
  function layout(steps) {
    const list = [...nodes.values()];
    for (let s = 0; s < steps; s++) {
      const t = 1 - s / steps;
      for (let i = 0; i < list.length; i++) {
        const a = list[i];
        for (let j = i + 1; j < list.length; j++) {
          const b = list[j];
          let dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy + 0.01;
          if (d2 > 90000) continue;
          const f = 900 / d2;
          a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
        }
      }
      for (const e of edges.values()) {
        const a = nodes.get(e.source), b = nodes.get(e.target);
        if (!a || !b) continue;
        const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01;
        const f = (d - 60) * 0.02;
        a.vx += dx / d * f; a.vy += dy / d * f; b.vx -= dx / d * f; b.vy -= dy / d * f;
      }
      for (const n of list) {
        n.vx -= n.x * 0.002; n.vy -= n.y * 0.002;
        const v = Math.sqrt(n.vx * n.vx + n.vy * n.vy), cap = 12 * t + 0.5;
        if (v > cap) { n.vx *= cap / v; n.vy *= cap / v; }
        n.x += n.vx; n.y += n.vy; n.vx *= 0.6; n.vy *= 0.6;
      }
    }
  }

  function shape(n) {
    const r = n.kind === "person" || n.kind === "firm" ? 9 : 6;
    let el;
    if (n.kind === "firm") {
      el = document.createElementNS(SVG, "rect");
      el.setAttribute("x", n.x - r); el.setAttribute("y", n.y - r);
      el.setAttribute("width", 2 * r); el.setAttribute("height", 2 * r);
    } else if (n.kind === "loan" || n.kind === "blacklist_entry") {
      el = document.createElementNS(SVG, "polygon");
      const p = n.kind === "loan"
        ? [[0, -r], [r, 0], [0, r], [-r, 0]]
        : [[-r, -r], [r, -r], [0, 0], [r, r], [-r, r], [0, 0]];
      el.setAttribute("points", p.map(([x, y]) => (n.x + x) + "," + (n.y + y)).join(" "));
    } else {
      el = document.createElementNS(SVG, "circle");
      el.setAttribute("cx", n.x); el.setAttribute("cy", n.y); el.setAttribute("r", r);
    }
    return el;
  }

  function draw() {
    const list = [...nodes.values()];
    if (!list.length) return;
    const xs = list.map((n) => n.x), ys = list.map((n) => n.y);
    const pad = 40, x0 = Math.min(...xs) - pad, y0 = Math.min(...ys) - pad;
    const w = Math.max(...xs) - x0 + pad, h = Math.max(...ys) - y0 + pad;
    svg.setAttribute("viewBox", x0 + " " + y0 + " " + w + " " + h);
    svg.replaceChildren();
    for (const e of edges.values()) {
      const a = nodes.get(e.source), b = nodes.get(e.target);
      if (!a || !b) continue;
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("x1", a.x); line.setAttribute("y1", a.y);
      line.setAttribute("x2", b.x); line.setAttribute("y2", b.y);
      line.setAttribute("class", "edge " + e.kind);
      const title = document.createElementNS(SVG, "title");
      title.textContent = e.kind + (e.amount != null ? " " + e.amount : "") +
        (e.share != null ? " share " + e.share : "");
      line.appendChild(title);
      svg.appendChild(line);
    }
    for (const n of list) {
      const el = shape(n);
      el.setAttribute("fill", colour(n));
      el.setAttribute("class", "node" + (n.key === selected ? " selected" : "") +
        (n.id === centreId && n.depth === 0 ? " centre" : ""));
      el.dataset.key = n.key; el.dataset.kind = n.kind;
      el.dataset.expanded = String(n.expanded);
      const title = document.createElementNS(SVG, "title");
      title.textContent = n.label + (n.trust_score != null ? " · trust " + n.trust_score.toFixed(1) : "") +
        (n.amount != null ? " · " + n.amount + " " + (n.currency || "") : "");
      el.appendChild(title);
      el.addEventListener("click", () => select(n.key));
      svg.appendChild(el);
      const text = document.createElementNS(SVG, "text");
      text.setAttribute("x", n.x + 11); text.setAttribute("y", n.y + 3);
      text.setAttribute("class", "lbl");
      text.textContent = n.label.length > 24 ? n.label.slice(0, 23) + "…" : n.label;
      svg.appendChild(text);
    }
    svg.dataset.nodes = String(nodes.size);
  }

  async function expand(n, depth) {
    if (n.expanded) return 0;
    n.expanded = true;
    const path = "/subjects/" + encodeURIComponent(n.id) + "/neighbourhood?depth=" + depth + "&limit=" + limit;
    const added = merge(await api(path), n.key);
    layout(added ? 150 : 0);
    draw();
    return added;
  }

  // A contribution's path alternates subject ids and links ({relationships: [{kind, id}]}).
  function pathText(path) {
    return path.map((p) => typeof p === "string" ? p
      : p && Array.isArray(p.relationships)
        ? " -[" + p.relationships.map((r) => r.kind + " " + r.id).join(", ") + "]-> "
        : " -" + JSON.stringify(p) + "- ").join("");
  }

  function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }
  function row(table, ...values) { const tr = document.createElement("tr"); values.forEach((v) => tr.appendChild(cell(v))); table.appendChild(tr); }
  function head(text, tag) { const h = document.createElement(tag || "h2"); h.textContent = text; detail.appendChild(h); }

  async function explainNode(n) {
    detail.replaceChildren();
    head(n.label + " (" + n.kind + " " + n.id + ")");
    if (n.kind !== "person" && n.kind !== "firm") {
      const p = document.createElement("p");
      p.textContent = n.kind === "loan" ? "loan of " + n.amount + " " + (n.currency || "") + ", " + n.status : "blacklist entry";
      detail.appendChild(p);
      return;
    }
    try {
      const s = await api("/subjects/" + encodeURIComponent(n.id) + "/score?top=10");
      const t = document.createElement("table");
      row(t, "trust score", s.trust_score.toFixed(2));
      row(t, "risk total / intrinsic / network", [s.risk.total, s.risk.intrinsic, s.risk.network].map((x) => x.toFixed(3)).join(" / "));
      for (const [d, r] of Object.entries(s.domains)) row(t, d + " risk", r.total.toFixed(3));
      row(t, "run", s.run.id + " (as of " + s.run.as_of + ")");
      detail.appendChild(t);
      head("Why: contributions", "h3");
      if (!s.contributions) {
        const p = document.createElement("p"); p.textContent = s.explanation_note || "no explanation"; detail.appendChild(p);
      } else if (!s.contributions.length) {
        const p = document.createElement("p"); p.textContent = "no network contributions"; detail.appendChild(p);
      } else {
        const c = document.createElement("table"); c.id = "contributions";
        row(c, "domain", "amount", "from", "path");
        for (const x of s.contributions) row(c, x.domain, x.amount.toFixed(4), x.source_subject, pathText(x.path));
        detail.appendChild(c);
      }
      head("Own records", "h3");
      const r = document.createElement("table");
      for (const x of s.records || []) row(r, x.id, x.label, x.status, x.effective.toFixed(3));
      detail.appendChild(r);
    } catch (err) {
      const p = document.createElement("p"); p.className = "error"; p.textContent = err.message; detail.appendChild(p);
    }
  }

  async function select(k) {
    selected = k;
    const n = nodes.get(k);
    draw();
    explainNode(n);
    try { await expand(n, 1); } catch (err) { status.textContent = err.message; }
  }

  async function start() {
    if (!key()) { askKey(); return; }
    document.getElementById("keyform").hidden = true;
    document.getElementById("forget").hidden = false;
    document.getElementById("title").textContent = "neighbourhood of " + centreId;
    nodes.clear(); edges.clear();
    try {
      const data = await api("/subjects/" + encodeURIComponent(centreId) + "/neighbourhood?depth=" + startDepth + "&limit=" + limit);
      merge(data, null);
      const centre = nodes.get(data.centre);
      if (centre) { centre.x = 0; centre.y = 0; centre.expanded = startDepth >= 1; }
      for (const n of nodes.values()) if (n.depth < startDepth) n.expanded = true;
      layout(300);
      selected = data.centre;
      draw();
      if (centre) explainNode(centre);
    } catch (err) {
      status.textContent = err.message; status.className = "error";
    }
  }

  document.getElementById("keyform").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = document.getElementById("key").value.trim();
    if (v) { sessionStorage.setItem(KEY, v); document.getElementById("key").value = ""; start(); }
  });
  document.getElementById("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); svg.replaceChildren(); askKey(); });
  start();
})();

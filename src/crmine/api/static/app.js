// crmine dashboard: every view asks the API with the user's token; nothing is cached here.
"use strict";
const state = { token: sessionStorage.getItem("crmine-token") || "", filters: [], columns: {} };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return Math.abs(v) >= 1000 ? v.toLocaleString("en-US", { maximumFractionDigits: 0 })
      : v.toLocaleString("en-US", { maximumFractionDigits: 3 });
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

async function api(path, opts = {}) {
  const r = await fetch("/api/v1" + path, {
    ...opts, headers: { Authorization: "Bearer " + state.token, ...(opts.headers || {}) } });
  if (!r.ok) {
    let msg = r.status + "";
    try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return (r.headers.get("content-type") || "").includes("json") ? r.json() : r.text();
}

// A table of rows (an array of objects); every chart has one next to it.
function table(rows, columns, caption) {
  if (!rows || !rows.length) return el("p", { class: "hint" }, "No rows.");
  const cols = columns || Object.keys(rows[0]);
  const t = el("table");
  if (caption) t.append(el("caption", {}, caption));
  const head = el("tr"); cols.forEach((c) => head.append(el("th", { scope: "col" }, c)));
  t.append(el("thead", {}, head));
  const body = el("tbody");
  for (const r of rows) {
    const tr = el("tr");
    cols.forEach((c) => tr.append(el("td", typeof r[c] === "number" ? { class: "n" } : {},
                                      fmt(r[c]))));
    body.append(tr);
  }
  t.append(body);
  return el("div", { class: "wrap" }, t);
}

function show(target, node) { const t = $(target); t.replaceChildren(node); }

function bar(target, x, y, title) {
  if (!window.Plotly) return;
  Plotly.newPlot(target, [{ type: "bar", x, y }], { title, margin: { t: 40, l: 50, r: 10, b: 80 } },
                 { displayModeBar: false, responsive: true });
}

const pages = {
  async overview() {
    const o = await api("/overview");
    const k = $("kpis"); k.replaceChildren();
    for (const [name, v] of Object.entries(o.kpis)) {
      k.append(el("div", { class: "kpi" }, el("div", { class: "v" }, fmt(v)),
                  el("div", { class: "k" }, name.replaceAll("_", " "))));
    }
    const rows = o.verdicts.map((v) => ({ analysis: v.analysis, status: v.status, why: v.why }));
    show("verdicts", table(rows, ["analysis", "status", "why"]));
  },
  async segments() {
    const s = await api("/segments");
    bar("segments-chart", s.clusters.map((c) => "cluster " + c.segment),
        s.clusters.map((c) => c.customers), "Customers per cluster");
    show("segments-table", table(s.clusters, ["segment", "customers", "share", "revenue_share",
                                              "description"]));
    show("rfm-table", table(s.rfm_segments));
  },
  async cube() {
    if (!Object.keys(state.columns).length) {
      state.columns = await api("/cube/columns");
      const dims = Object.entries(state.columns).filter(([c, k]) => k === "text" && c !== "customer_id")
        .map(([c]) => c);
      $("cube-dim").replaceChildren(...dims.map((d) => el("option", { value: d }, d)));
      await loadValues();
    }
    await refreshCube();
  },
  async customer() {},
  async campaigns() {
    const c = await api("/campaigns");
    const per = c.kpis.filter((r) => r.level === "campaign");
    bar("campaigns-chart", per.map((r) => r.campaign_name || r.key), per.map((r) => r.conversion_rate),
        "Conversion rate per campaign");
    show("campaigns-table", table(per, ["key", "campaign_name", "contacts", "conversions",
                                        "conversion_rate", "control_conversion_rate", "roi"]));
  },
  async analyses() {
    const sel = $("analysis-name");
    if (!sel.options.length) {
      const all = await api("/analyses");
      sel.replaceChildren(...all.rows.map((a) => el("option", { value: a.name }, a.title)));
    }
    await showAnalysis(sel.value);
  },
};

// Any declared analysis: its verdict and the first rows of what people act on.
async function showAnalysis(name) {
  state.analysis = name;
  const a = await api("/analyses/" + encodeURIComponent(name));
  if (state.analysis !== name) return;  // another analysis was chosen meanwhile
  const view = el("div");
  const v = a.verdict;
  view.append(el("p", { class: v ? "status-" + v.status : "" },
                 v ? "Verdict: " + v.status.replace("_", " ") + " — " + v.why : "No verdict."));
  if (v && v.what_to_try) view.append(el("p", {}, "What to try: " + v.what_to_try));
  for (const m of a.marts) {
    view.append(el("h3", {}, m.table + " (" + fmt(m.rows) + " rows; " + m.grain + ")"));
    if (m.preview) view.append(table(m.preview));
  }
  show("analysis-view", view);
  $("analysis-view").dataset.name = name;
}

async function loadValues() {
  const dim = $("cube-dim").value;
  const g = await api("/cube/group?by=" + encodeURIComponent(dim) + "&measure=customers");
  $("cube-value").replaceChildren(...g.groups.filter((r) => r[dim] !== null)
    .map((r) => el("option", { value: r[dim] }, r[dim] + " (" + fmt(r.customers) + ")")));
}

function whereQuery() { return state.filters.map((f) => "where=" + encodeURIComponent(f)).join("&"); }

// Each refresh is numbered: an answer to an older filter set arriving late is dropped, or it
// would show the count of the filters before (e.g. every customer) under the new ones.
let cubeRefresh = 0;

async function refreshCube() {
  const mine = ++cubeRefresh;
  const filters = state.filters.slice();
  $("cube-error").textContent = "";
  const count = $("cube-count");
  count.textContent = "…";
  count.dataset.where = "";
  $("cube-filters").textContent = filters.length ? filters.join(" and ") : "none";
  try {
    const q = whereQuery();
    const [counted, list] = await Promise.all([
      api("/cube/count?" + q), api("/customers?" + q + (q ? "&" : "") + "page_size=20")]);
    if (mine !== cubeRefresh) return;
    count.textContent = fmt(counted.count);
    count.dataset.where = filters.join("&");
    const cols = ["customer_id", "name", "email", "segment", "city", "gender", "revenue", "churn_risk"]
      .filter((c) => list.customers.length && c in list.customers[0]);
    const t = table(list.customers, cols);
    t.addEventListener("click", (ev) => {
      const td = ev.target.closest("td");
      if (td && td.cellIndex === 0) openCustomer(td.textContent);
    });
    show("cube-list", t);
  } catch (e) { if (mine === cubeRefresh) $("cube-error").textContent = e.message; }
}

async function exportCsv() {
  try {
    const csv = await api("/cube/export?" + whereQuery());
    const a = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })),
                        download: "customers.csv" });
    document.body.append(a); a.click(); a.remove();
  } catch (e) { $("cube-error").textContent = e.message; }
}

async function openCustomer(id) {
  $("customer-id").value = id;
  await go("customer");
  $("customer-error").textContent = "";
  try {
    const c = await api("/customers/" + encodeURIComponent(id));
    const view = el("div");
    view.append(el("h3", {}, "Attributes"), table([c.attributes]));
    if (c.segment) view.append(el("h3", {}, "Segment"), table([c.segment]));
    if (c.scores) view.append(el("h3", {}, "Scores"), table([c.scores]));
    if (c.churn) view.append(el("h3", {}, "Churn risk"), table([c.churn]));
    if (c.lifecycle) view.append(el("h3", {}, "Lifecycle"), table([c.lifecycle]));
    view.append(el("h3", {}, "Next-best products"), table(c.next_best_products));
    view.append(el("h3", {}, "Orders"), table(c.orders));
    view.append(el("h3", {}, "Tickets"), table(c.tickets));
    view.append(el("h3", {}, "History"), table(c.history));
    show("customer-view", view);
  } catch (e) { $("customer-error").textContent = e.message; }
}

async function go(page) {
  document.querySelectorAll(".page").forEach((p) => { p.hidden = p.id !== "page-" + page; });
  document.querySelectorAll("#nav button, #analysis-nav button").forEach((b) => {
    if (b.dataset.page === page) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  await pages[page]();
}

async function signIn(token) {
  state.token = token;
  const me = await api("/me");
  state.me = me;
  sessionStorage.setItem("crmine-token", token);
  $("who").textContent = me.name + " (" + me.role + (me.pii ? "" : ", personal data masked") + ")";
  $("login").hidden = true;
  $("nav").hidden = false;
  await buildAnalysisNav();  // pages.js: a page per declared analysis
  await go("overview");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try { await signIn($("token").value.trim()); } catch (e) { $("login-error").textContent = e.message; }
  });
  document.querySelectorAll("#nav button").forEach((b) =>
    b.addEventListener("click", () => go(b.dataset.page)));
  $("cube-dim").addEventListener("change", loadValues);
  $("analysis-name").addEventListener("change", () => showAnalysis($("analysis-name").value));
  $("cube-add").addEventListener("click", () => {
    state.filters.push($("cube-dim").value + "=" + $("cube-value").value);
    refreshCube();
  });
  $("cube-clear").addEventListener("click", () => { state.filters = []; refreshCube(); });
  $("cube-export").addEventListener("click", exportCsv);
  $("customer-form").addEventListener("submit", (ev) => {
    ev.preventDefault(); openCustomer($("customer-id").value.trim());
  });
  if (state.token) signIn(state.token).catch(() => sessionStorage.removeItem("crmine-token"));
});

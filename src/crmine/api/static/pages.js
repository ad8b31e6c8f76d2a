// crmine dashboard: one page per declared analysis, built from what the API says it exposes
// (GET /analyses/{name}/page): verdict first, headline figures, charts each with a table
// view, then its lists (sortable, filterable, paged, CSV) — none when it is not informative.
"use strict";
const EXPORT_ROLES = ["marketer", "analyst", "admin"];
const HIDDEN_COLUMNS = ["model_version", "scored_at"];
// Short names for the page buttons (any other analysis shows its declared title).
const LABELS = { churn: "Churn & retention", clv: "CLV", basket: "Rules explorer", marketing: "Campaigns & funnel",
                 lifecycle: "Lifecycle", service: "Service", sales: "Sales", marketing_mix: "Marketing mix",
                 segment: "Segmentation", response: "Response & uplift" };

function fmtKpi(k) {
  if (k.kind === "share") return (100 * k.value).toLocaleString("en-US", { maximumFractionDigits: 1 }) + "%";
  if (k.kind === "money") return k.value.toLocaleString("en-US", { maximumFractionDigits: 0 });
  return fmt(k.value);
}

function statusText(s) { return (s || "not run").replace("_", " "); }

function verdictBox(v) {
  const box = el("div", { class: "verdict " + (v ? "status-" + v.status : "status-none"), role: "status",
                          id: "ap-verdict" });
  if (!v) { box.append(el("p", {}, "Verdict: not run yet — run this analysis (crmine run) to see it here.")); return box; }
  box.append(el("p", {}, el("strong", {}, "Verdict: " + statusText(v.status)), " — " + (v.why || "")));
  if (v.metric) {
    let figure = v.metric + ": " + fmt(v.value);
    if (Array.isArray(v.interval) && v.interval.length === 2) figure += " (interval " + fmt(v.interval[0]) + " to " + fmt(v.interval[1]) + ")";
    if (v.baseline !== null && v.baseline !== undefined) figure += "; naive baseline " + fmt(v.baseline);
    box.append(el("p", { class: "hint" }, figure));
  }
  if (v.what_to_try) box.append(el("p", {}, "What to try: " + v.what_to_try));
  return box;
}

// -- charts ---------------------------------------------------------------------------------
function seriesOf(b) {
  const rows = b.rows;
  const col = (c) => rows.map((r) => r[c]);
  if (b.group) {
    const groups = [...new Set(rows.map((r) => r[b.group]))];
    return groups.map((g) => {
      const part = rows.filter((r) => r[b.group] === g);
      return { name: String(g), x: part.map((r) => r[b.x]), y: part.map((r) => r[b.y[0]]) };
    });
  }
  return b.y.map((c) => {
    const s = { name: c.replaceAll("_", " "), x: col(b.x), y: col(c) };
    if (b.lo && b.hi && b.y.length === 1) {
      s.hi = rows.map((r) => (r[b.hi] === null || r[c] === null ? null : r[b.hi] - r[c]));
      s.lo = rows.map((r) => (r[b.lo] === null || r[c] === null ? null : r[c] - r[b.lo]));
      s.band = [col(b.lo), col(b.hi)];
    }
    return s;
  });
}

function traces(b) {
  if (b.kind === "funnel") {
    return [{ type: "funnel", y: b.rows.map((r) => r[b.y[0]]), x: b.rows.map((r) => r[b.x]),
              textinfo: "value+percent initial" }];
  }
  const out = [];
  for (const s of seriesOf(b)) {
    if (b.kind === "line") {
      if (s.band) {
        out.push({ type: "scatter", mode: "lines", x: s.x, y: s.band[1], line: { width: 0 },
                   showlegend: false, hoverinfo: "skip" });
        out.push({ type: "scatter", mode: "lines", x: s.x, y: s.band[0], fill: "tonexty",
                   fillcolor: "rgba(31,111,235,0.15)", line: { width: 0 }, name: "interval" });
      }
      out.push({ type: "scatter", mode: "lines", name: s.name, x: s.x, y: s.y });
    } else {
      const h = b.kind === "hbar";
      const t = { type: "bar", name: s.name, x: h ? s.y : s.x, y: h ? s.x : s.y };
      if (h) t.orientation = "h";
      if (s.lo) t[h ? "error_x" : "error_y"] = { type: "data", array: s.hi, arrayminus: s.lo, visible: true };
      out.push(t);
    }
  }
  return out;
}

function drawChart(node, b) {
  if (!window.Plotly) return Promise.resolve();
  const h = b.kind === "hbar";
  const layout = { margin: { t: 10, l: h ? 10 : 50, r: 10, b: 60 }, height: h ? Math.max(260, 22 * b.rows.length + 60) : 300,
                   showlegend: b.y.length > 1 || !!b.group, legend: { orientation: "h", y: -0.25 },
                   xaxis: { automargin: true, type: h ? "-" : "category" }, yaxis: { automargin: true },
                   barmode: "group", font: { size: 12 } };
  if (b.kind === "line" || b.kind === "funnel") layout.xaxis.type = "-";
  if (h) layout.yaxis.autorange = "reversed";
  if (b.kind === "funnel") layout.margin.l = 90;
  return Plotly.newPlot(node, traces(b), layout, { displayModeBar: false, responsive: true });
}

function blockView(b) {
  const fig = el("figure", { class: "block", "data-block": b.key });
  fig.append(el("figcaption", {}, el("h3", {}, b.title)));
  if (b.forbidden) {
    fig.dataset.state = "forbidden";
    fig.append(el("p", { class: "hint" }, "Your role may not read the data of this chart."));
    return fig;
  }
  if (b.kind === "table") { fig.classList.add("wide"); fig.dataset.state = "table"; fig.append(table(b.rows)); return fig; }
  if (!b.rows.length) { fig.dataset.state = "empty"; fig.append(el("p", { class: "hint" }, "No rows.")); return fig; }
  const chart = el("div", { class: "chart", role: "img", "aria-label": b.title + " (chart; the table view below has the same figures)" });
  fig.append(chart);
  if (b.note) fig.append(el("p", { class: "hint" }, b.note));
  const details = el("details", {}, el("summary", {}, "Table view"), table(b.rows));
  fig.append(details);
  requestAnimationFrame(() => drawChart(chart, b).then(() => { fig.dataset.state = "drawn"; }));
  return fig;
}

// -- lists: sortable, filterable, paged, exportable -------------------------------------------
function listView(analysis, spec, prefix = "list") {
  const id = prefix + "-" + analysis + "-" + spec.mart;
  const box = el("section", { class: "list", id, "aria-labelledby": id + "-h" });
  box.append(el("h3", { id: id + "-h" }, spec.title + " (" + spec.mart + ")"));
  if (!spec.readable) { box.append(el("p", { class: "hint" }, "Your role may not read this list.")); return box; }
  const q = { sort: spec.sort, desc: spec.desc, page: 1, q: "", minimum: {} };
  const form = el("form", { class: "filters", "aria-label": "Filter " + spec.title });
  if (spec.search) {
    const input = el("input", { id: id + "-q", type: "search", maxlength: "100" });
    form.append(el("label", { for: id + "-q" }, "Contains"), input);
  }
  for (const m of spec.minimums) {
    form.append(el("label", { for: id + "-min-" + m }, "Minimum " + m.replaceAll("_", " ")),
                el("input", { id: id + "-min-" + m, type: "number", step: "any", "data-min": m, class: "num" }));
  }
  form.append(el("button", { type: "submit" }, "Apply"));
  const mayExport = state.me && EXPORT_ROLES.includes(state.me.role);
  if (mayExport) form.append(el("button", { type: "button", class: "export" }, "Export CSV"));
  const status = el("p", { class: "hint", "aria-live": "polite" });
  const area = el("div", { class: "list-rows" });
  const pager = el("div", { class: "pager" });
  const error = el("p", { class: "error", role: "alert" });
  box.append(form, status, error, area, pager);

  const params = (paged) => {
    const p = new URLSearchParams();
    if (q.sort) { p.set("sort", q.sort); if (q.desc) p.set("desc", "true"); }
    if (q.q) p.set("q", q.q);
    for (const [c, v] of Object.entries(q.minimum)) p.append("minimum", c + ":" + v);
    if (paged) { p.set("page", q.page); p.set("page_size", "25"); }
    return p.toString();
  };
  const base = "/analyses/" + encodeURIComponent(analysis) + "/marts/" + encodeURIComponent(spec.mart);

  async function load() {
    error.textContent = "";
    box.dataset.loaded = "";
    try {
      const r = await api(base + "?" + params(true));
      const cols = spec.columns.filter((c) => r.columns.includes(c));
      area.replaceChildren(sortable(r.rows, cols));
      status.textContent = fmt(r.count) + " rows" + (r.pages > 1 ? "; page " + fmt(r.page) + " of " + fmt(r.pages) : "");
      pager.replaceChildren();
      if (r.pages > 1) {
        const prev = el("button", { type: "button" }, "Previous page");
        const next = el("button", { type: "button" }, "Next page");
        prev.disabled = q.page <= 1; next.disabled = q.page >= r.pages;
        prev.addEventListener("click", () => { q.page -= 1; load(); });
        next.addEventListener("click", () => { q.page += 1; load(); });
        pager.append(prev, next);
      }
      box.dataset.loaded = "1";
    } catch (e) { error.textContent = e.message; }
  }

  function sortable(rows, cols) {
    if (!rows.length) return el("p", { class: "hint" }, "No rows.");
    const t = el("table");
    const head = el("tr");
    for (const c of cols) {
      const th = el("th", { scope: "col" });
      if (c === q.sort) th.setAttribute("aria-sort", q.desc ? "descending" : "ascending");
      const b = el("button", { type: "button", class: "sort", "data-col": c }, c + (c === q.sort ? (q.desc ? " ▼" : " ▲") : ""));
      b.addEventListener("click", () => {
        if (q.sort === c) q.desc = !q.desc; else { q.sort = c; q.desc = false; }
        q.page = 1; load();
      });
      th.append(b); head.append(th);
    }
    t.append(el("thead", {}, head));
    const body = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      cols.forEach((c) => tr.append(el("td", typeof r[c] === "number" ? { class: "n" } : {}, fmt(r[c]))));
      body.append(tr);
    }
    t.append(body);
    return el("div", { class: "wrap" }, t);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const s = form.querySelector("input[type=search]");
    q.q = s ? s.value.trim() : "";
    q.minimum = {};
    form.querySelectorAll("input[data-min]").forEach((i) => { if (i.value !== "") q.minimum[i.dataset.min] = i.value; });
    q.page = 1; load();
  });
  const exp = form.querySelector(".export");
  if (exp) exp.addEventListener("click", async () => {
    try {
      const csv = await api(base + "/export?" + params(false));
      const a = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: spec.mart + ".csv" });
      document.body.append(a); a.click(); a.remove();
    } catch (e) { error.textContent = e.message; }
  });
  load();
  return box;
}

function martBrowser(page) {
  const marts = page.marts.filter((m) => m.readable && !m.withheld && m.rows !== null);
  const box = el("section", { class: "list-browser" });
  box.append(el("h3", {}, "Every table of this analysis"));
  if (!marts.length) { box.append(el("p", { class: "hint" }, "No tables yet.")); return box; }
  const id = "browse-" + page.name;
  const sel = el("select", { id });
  marts.forEach((m) => sel.append(el("option", { value: m.name }, m.name + " — " + m.grain + " (" + fmt(m.rows) + " rows)")));
  const holder = el("div");
  const open = () => {
    const m = marts.find((x) => x.name === sel.value);
    holder.replaceChildren(listView(page.name, { mart: m.name, title: m.grain, sort: "", desc: false, search: true, minimums: [],
      readable: true, columns: m.columns.filter((c) => !HIDDEN_COLUMNS.includes(c)) }, "table"));
  };
  sel.addEventListener("change", open);
  box.append(el("label", { for: id }, "Table"), sel, holder);
  open();
  return box;
}

// -- the page -------------------------------------------------------------------------------
async function showAnalysisPage(name) {
  state.page = name;
  const target = $("analysis-page");
  target.dataset.name = "";
  target.setAttribute("aria-busy", "true");
  const p = await api("/analyses/" + encodeURIComponent(name) + "/page");
  if (state.page !== name) return;  // another page was chosen meanwhile
  const view = el("div");
  view.append(el("h2", { id: "ap-title" }, p.title), verdictBox(p.verdict));
  if (p.kpis.length) {
    const k = el("div", { class: "kpis" });
    for (const x of p.kpis) k.append(el("div", { class: "kpi" }, el("div", { class: "v" }, fmtKpi(x)), el("div", { class: "k" }, x.label)));
    view.append(k);
  }
  if (p.withheld) {
    view.append(el("p", { class: "withheld", id: "ap-withheld" }, "This analysis is not informative on these data, so it shows no list " +
                    "to act on; its descriptive tables are below."));
  }
  const grid = el("div", { class: "blocks" });
  p.blocks.filter((b) => !b.withheld).forEach((b) => grid.append(blockView(b)));
  view.append(grid);
  // the declared lists to act on; an analysis's other marts are in the table browser below
  for (const l of p.lists.filter((x) => !x.withheld && x.rows !== null)) view.append(listView(name, l));
  view.append(martBrowser(p));
  target.replaceChildren(view);
  target.removeAttribute("aria-busy");
  target.dataset.name = name;
  target.dataset.status = p.verdict ? p.verdict.status : "none";
}

pages.analysis = async () => { await showAnalysisPage(state.page); };

async function openAnalysisPage(name) {
  state.page = name;
  await go("analysis");
  document.querySelectorAll("#analysis-nav button").forEach((b) => {
    if (b.dataset.analysis === name) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  });
}

// Called once signed in: one button per declared analysis that fits something.
async function buildAnalysisNav() {
  const all = await api("/analyses");
  const nav = $("analysis-nav");
  const order = (a) => { const i = Object.keys(LABELS).indexOf(a.name); return i < 0 ? 99 : i; };
  const fitted = all.rows.filter((a) => a.fits).sort((a, b) => order(a) - order(b));
  nav.replaceChildren(...fitted.map((a) => {
    const b = el("button", { type: "button", "data-analysis": a.name, class: "status-dot-" + (a.verdict ? a.verdict.status : "none"),
                       title: a.title }, LABELS[a.name] || a.title);
    b.addEventListener("click", () => openAnalysisPage(a.name));
    return b;
  }));
  nav.hidden = false;
}

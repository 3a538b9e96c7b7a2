// zoo ui's page: three views (Catalog, Runs, Try) over the JSON routes of zoo/ui/app.py.
// Everything shown comes from zoo's Python API through those routes; text is always set as
// text (never parsed as HTML), and the curves are Plotly's, served by the app itself.
"use strict";

const POLL_MS = 1500; // how often an open run (or comparison) asks for new epochs
let timer = null; // the open view's polling, stopped when the view changes

// --- small helpers --------------------------------------------------------------------------

// The page's half of zoo.text.printable: every character Python does not call printable
// (control characters, right-to-left overrides and other invisible formatting, lone
// surrogates, separators but the space) is shown escaped as Python's repr writes it, so a name
// from a shared folder reads as what it is. tests/test_ui.py compares the two on hostile text.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|[^\P{Zs} ]/gu;
function escaped(char) {
  const named = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }[char];
  if (named) return named;
  const code = char.codePointAt(0);
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\U${code.toString(16).padStart(8, "0")}`;
}
const visible = (text) => String(text).replace(HIDDEN, escaped);
// zoo.text.terminal's: lines kept (a config, a message of several lines)
const visibleLines = (text) => String(text).split("\n").map(visible).join("\n");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = visible(value);
    else if (key === "lines") node.textContent = visibleLines(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
  return node;
}

async function call(url, options = {}) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function post(url, body, type = "application/json") {
  return call(url, { method: "POST", headers: { "Content-Type": type, "X-Zoo-UI": "1" }, body });
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message ? `Error: ${visibleLines(message)}` : "";
  box.hidden = !message;
}

// A run's status, the word zoo runs prints (zoo.runs.rundir.STATUSES), its reason on hover.
const badge = (status, reason) => el("span", { class: `badge status-${status}`, text: status,
  title: reason ? visible(reason) : "" });
const pct = (v) => (v === null || v === undefined ? "-" : `${(100 * v).toFixed(2)}%`);
const num = (v, digits = 4) => (v === null || v === undefined ? "-" : Number(v).toFixed(digits));
function si(v) {
  if (v === null || v === undefined) return "-";
  for (const [unit, size] of [["G", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (Math.abs(v) >= size) return `${(v / size).toFixed(1)}${unit}`;
  }
  return String(v);
}
const plotConfig = { responsive: true, displaylogo: false };
// Plotly reads tags (<a href>, <b>...) in the text it draws: names from run directories and
// plugins are shown as they are, never as markup, and escaped as everywhere else.
const plain = (text) => visible(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

// --- routing ----------------------------------------------------------------------------------

function route() {
  clearInterval(timer);
  timer = null;
  showError("");
  const [page, query] = (location.hash.slice(2) || "catalog").split("?");
  const params = new URLSearchParams(query || "");
  const tab = { weights: "catalog", run: "runs", compare: "runs", study: "studies" }[page] || page;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.page === tab);
  }
  const main = document.getElementById("main");
  main.replaceChildren();
  main.dataset.page = page;
  const views = { catalog, weights, runs, run, compare, studies, study, try: tryView };
  const view = views[page] || catalog;
  view(main, params).catch((e) => showError(e.message));
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// --- Catalog ----------------------------------------------------------------------------------

const RESULT_COLUMNS = [
  ["name", "weights"], ["model", "model"], ["dataset", "dataset"],
  ["test_acc", "test acc", pct, "num"], ["test_loss", "test loss", num, "num"],
  // over seeds: mean ± sd (n) of the test accuracy where a card has several seeds (the server's)
  ["seeds_test_acc", "over seeds", null, "num", "over_seeds"],
  ["parameters", "params", si, "num"], ["flops", "FLOPs", si, "num"],
  // the training time as zoo list weights writes it (the server's one formatter)
  ["train_seconds", "trained in", null, "num", "trained_in"], ["hardware", "hardware"], ["plugin", "plugin"],
];

async function catalog(main, params) {
  const sort = params.get("sort") || "dataset";
  const reverse = params.has("reverse");
  const [known, rows] = await Promise.all([
    call("/api/catalog"),
    call(`/api/results?sort=${encodeURIComponent(sort)}${reverse ? "&reverse=1" : ""}`),
  ]);
  document.getElementById("folder").textContent = visible(known.folder);
  main.append(el("h2", { text: "Trained weights: the results table" }));
  main.append(el("p", { class: "muted",
    text: "Click a column to sort by it (again: the other way round), a row for its card." }));
  const head = el("tr", {}, RESULT_COLUMNS.map(([key, title, , cls]) => {
    const sorted = key === sort ? (reverse ? "sorted reversed" : "sorted") : "";
    const again = key === sort && !reverse ? "&reverse=1" : "";
    return el("th", { "data-sort": key, class: [cls, sorted].join(" ").trim(), text: title,
                      onclick: () => { location.hash = `#/catalog?sort=${key}${again}`; } });
  }), el("th", { text: "reproduce" }));
  const body = rows.map((r) => {
    if (r.problem) {
      return el("tr", { class: "broken", "data-name": r.name },
        el("td", { text: r.name }), el("td", { colspan: RESULT_COLUMNS.length, text: r.problem }));
    }
    return el("tr", { class: "link", "data-name": r.name,
                      onclick: () => { location.hash = `#/weights?name=${encodeURIComponent(r.name)}`; } },
      RESULT_COLUMNS.map(([key, , format, cls, shownAs]) =>
        el("td", { class: cls, text: shownAs ? (r[shownAs] ?? "-") : format ? format(r[key]) : (r[key] ?? "-") })),
      el("td", {}, el("code", { text: r.reproduce })));
  });
  // scrolls sideways on a narrow screen instead of being cut off
  main.append(el("div", { class: "scroll" },
    el("table", { id: "results" }, el("thead", {}, head), el("tbody", {}, body))));
  for (const [kind, title] of [["models", "Models"], ["datasets", "Datasets"]]) {
    main.append(el("h2", { text: title }));
    main.append(el("table", { id: kind },
      el("thead", {}, el("tr", {}, ["name", "plugin", "options", "description"].map((t) => el("th", { text: t })))),
      el("tbody", {}, known[kind].map((e) => el("tr", { "data-name": e.name },
        el("td", {}, el("code", { text: e.name })), el("td", { text: e.plugin }),
        el("td", {}, el("code", { text: e.options.join(", ") || "none" })),
        el("td", { text: e.description }))))));
  }
}

async function weights(main, params) {
  const name = params.get("name");
  const card = await call(`/api/weights/${encodeURIComponent(name)}`);
  main.append(el("h2", { id: "card-title", text: card.summary }));
  if (card.description) main.append(el("p", { text: card.description }));
  const facts = [
    ["model", `${card.model} ${JSON.stringify(card.options)}`],
    ["dataset", `${card.dataset.name} (input ${JSON.stringify(card.input_shape)})`],
    ["test accuracy", pct(card.metrics.test_acc)], ["test loss", num(card.metrics.test_loss)],
    ["parameters", si(card.parameters)], ["FLOPs / forward", si(card.flops)],
    ["trained in", card.trained_in || "-"], ["hardware", card.hardware || "-"],
    ["file", `${card.where} (${card.size.toLocaleString()} bytes, sha256 ${card.sha256})`],
  ];
  main.append(el("table", { id: "card" }, el("tbody", {}, facts.map(([k, v]) =>
    el("tr", {}, el("th", { text: k }), el("td", { text: v }))))));
  main.append(el("p", {}, "Retrain and compare: ", el("code", { text: card.reproduce }), "  ",
    el("a", { href: `#/try?kind=weights&source=${encodeURIComponent(name)}`, text: "try these weights" })));
  if (card.recipe) main.append(el("h2", { text: "Recipe" }), el("pre", { text: card.recipe }));
}

// --- Runs -------------------------------------------------------------------------------------

async function runs(main) {
  let listed = await call("/api/runs");
  document.getElementById("folder").textContent = visible(listed.folder);
  const empty = el("p", { class: "muted", text: "No run directories here yet: zoo run logistic makes one." });
  const compareButton = el("button", { id: "compare", disabled: true, text: "Compare selected",
    onclick: () => {
      const picked = [...main.querySelectorAll("input.pick:checked")].map((b) => b.value);
      location.hash = `#/compare?${picked.map((p) => `run=${encodeURIComponent(p)}`).join("&")}`;
    } });
  const head = el("tr", {}, el("th"), ["run", "model", "dataset", "epochs", "best epoch",
    "val acc", "val loss", "date", "status"].map((t) => el("th", { text: t })));
  const body = el("tbody");
  const table = el("table", { id: "runs" }, el("thead", {}, head), body);
  const picked = () => new Set([...main.querySelectorAll("input.pick:checked")].map((b) => b.value));
  const row = (r, checked) => {
    if (r.problem) {
      return el("tr", { class: "broken", "data-path": r.path }, el("td"), el("td", { text: r.path }),
        el("td", { colspan: 7, text: r.problem }), el("td", {}, badge("broken")));
    }
    const open = () => { location.hash = `#/run?path=${encodeURIComponent(r.path)}`; };
    const best = r.best || {};
    return el("tr", { class: "link", "data-path": r.path },
      el("td", {}, el("input", { type: "checkbox", class: "pick", value: r.path, checked,
        onclick: (e) => e.stopPropagation(),
        onchange: () => { compareButton.disabled = picked().size < 1; } })),
      el("td", { onclick: open }, el("code", { text: r.path })), el("td", { text: r.model, onclick: open }),
      el("td", { text: r.dataset, onclick: open }),
      el("td", { class: "num", text: `${r.epochs_done}/${r.epochs}`, onclick: open }),
      el("td", { class: "num", text: best.epoch ?? "-", onclick: open }),
      el("td", { class: "num", text: pct(best.val_acc), onclick: open }),
      el("td", { class: "num", text: num(best.val_loss), onclick: open }),
      el("td", { text: r.date, onclick: open }),
      el("td", { onclick: open }, badge(r.status, r.reason)));
  };
  const render = () => {
    const keep = picked();
    body.replaceChildren(...listed.runs.map((r) => row(r, keep.has(r.path))));
    empty.hidden = listed.runs.length > 0;
    table.hidden = compareButton.hidden = !empty.hidden;
  };
  main.append(el("h2", { text: `Runs under ${listed.folder}` }), empty, table, compareButton);
  render();
  // new runs, and new epochs of those training, appear by themselves
  let seen = JSON.stringify(listed);
  timer = setInterval(async () => {
    try {
      const next = await call("/api/runs");
      const text = JSON.stringify(next);
      if (text !== seen) { listed = next; seen = text; render(); }
    } catch (e) { showError(e.message); }
  }, POLL_MS * 2);
}

// Which chart a history key belongs to: losses together, accuracies together, the learning
// rate, then one chart for each other number the run recorded.
function chartOf(key) {
  if (key === "epoch") return null;
  if (key.endsWith("loss")) return "loss";
  if (key.endsWith("acc")) return "accuracy";
  if (key === "lr") return "learning rate";
  return key;
}

function curves(history) {
  const charts = new Map();
  for (const row of history) {
    for (const key of Object.keys(row)) {
      const chart = chartOf(key);
      if (!chart) continue;
      if (!charts.has(chart)) charts.set(chart, new Set());
      charts.get(chart).add(key);
    }
  }
  const order = ["loss", "accuracy", "learning rate"];
  const names = [...charts.keys()].sort((a, b) =>
    ((order.indexOf(a) + 1) || 99) - ((order.indexOf(b) + 1) || 99) || a.localeCompare(b));
  return names.map((name) => ({ name, keys: [...charts.get(name)].sort() }));
}

// A chart's y axis for what it shows: accuracies within [0, 1] (a one-epoch run's single point
// is not padded to 1.9), a learning rate on a log scale only when it spans more than a decade
// (a constant rate on a log axis reads "5, 2, 0.1, 5"), numbers written plainly.
function yAxis(title, traces) {
  const values = traces.flatMap((t) => t.y).filter((v) => typeof v === "number" && isFinite(v));
  if (!values.length) return { type: "linear" };
  const low = Math.min(...values), high = Math.max(...values);
  if (title === "accuracy" || title === "val_acc") {
    const pad = Math.max(0.01, (high - low) * 0.1);
    return { type: "linear", range: [Math.max(0, low - pad), Math.min(1.005, high + pad)], tickformat: ".1%" };
  }
  if ((title === "learning rate" || title === "lr") && low > 0 && high / low > 10) {
    return { type: "log", tickformat: ".1e", dtick: 1 };
  }
  return { type: "linear", tickformat: ".4~g" };
}

function drawChart(div, title, traces) {
  const layout = {
    title: { text: plain(title), font: { size: 14 } }, margin: { l: 60, r: 10, t: 36, b: 36 },
    xaxis: { title: { text: "epoch" }, dtick: traces.some((t) => t.x.length > 15) ? undefined : 1 },
    yaxis: yAxis(title, traces),
    legend: { x: 1, xanchor: "right", y: 1, bgcolor: "rgba(255,255,255,0.7)" },
    uirevision: title, // zoom and hidden traces survive the live updates
  };
  Plotly.react(div, traces, layout, plotConfig);
}

// A key's points, one per epoch; the learning rate within each epoch too where the run
// recorded it (lr_steps: a scheduler stepped every batch, such as onecycle), at fractions of
// the epoch it was set in.
function historyTraces(history, keys, label = "") {
  return keys.map((key) => {
    const x = [], y = [];
    for (const r of history) {
      if (r[key] === undefined) continue;
      const steps = key === "lr" && Array.isArray(r.lr_steps) && r.lr_steps.length > 1 ? r.lr_steps : null;
      if (steps) {
        steps.forEach((v, i) => { x.push(r.epoch - 1 + i / (steps.length - 1)); y.push(v); });
      } else {
        x.push(r.epoch); y.push(r[key]);
      }
    }
    return { x, y, name: plain(label ? `${label} ${key}` : key),
             mode: x.length > 60 ? "lines" : "lines+markers", type: "scatter" };
  });
}

// The epoch that is training now, from the run's progress.json.
function progressText(p) {
  const share = p.samples_total ? ` (${Math.round(100 * p.samples / p.samples_total)}%)` : "";
  return `epoch ${p.epoch} of ${p.epochs} training: ${p.samples.toLocaleString()} of ` +
    `${p.samples_total.toLocaleString()} samples${share}, train loss ${num(p.train_loss)}, ` +
    `${Math.round(p.samples_per_s).toLocaleString()} samples/s`;
}

// A confusion matrix whose colours show the mistakes: the diagonal (the right answers, far
// larger) is written but not coloured, so the colour scale runs over the off-diagonal counts.
function drawConfusion(div, where, m) {
  const names = (m.classes || m.matrix.map((_, i) => String(i))).map(plain);
  const off = m.matrix.map((row, i) => row.map((v, j) => (i === j ? null : v)));
  const diagonal = m.matrix.map((row, i) => row.map((v, j) => (i === j ? v : null)));
  const text = m.matrix.map((row) => row.map(String));
  Plotly.react(div, [
    { z: diagonal, x: names, y: names, type: "heatmap", showscale: false, hoverongaps: false,
      colorscale: [[0, "#e5e7eb"], [1, "#e5e7eb"]], text, texttemplate: "%{text}",
      hovertemplate: "true %{y}, predicted %{x}: %{z} (right)<extra></extra>" },
    { z: off, x: names, y: names, type: "heatmap", colorscale: "Reds", zmin: 0, hoverongaps: false,
      text, texttemplate: "%{text}", colorbar: { title: { text: "mistakes" } },
      hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>" },
  ], { title: { text: plain(`${where}: rows true, columns predicted; colour: the mistakes`), font: { size: 13 } },
       yaxis: { autorange: "reversed", type: "category" }, xaxis: { type: "category" },
       margin: { l: 80, r: 10, t: 36, b: 60 } }, plotConfig);
}

async function run(main, params) {
  const path = params.get("path");
  const url = `/api/run?path=${encodeURIComponent(path)}`;
  let shown = await call(url);
  const title = el("h2", { id: "run-title" });
  const status = el("p", { id: "run-status" });
  const live = el("p", { id: "run-progress", class: "muted", hidden: true });
  const charts = el("div", { class: "charts", id: "curves" });
  const extra = el("div");
  main.append(title, status, live, charts, extra);
  const render = (r) => {
    title.textContent = visible(`${r.path}: ${r.model || "?"} on ${r.dataset || "?"}`);
    if (r.problem) {
      status.replaceChildren(el("span", { class: "badge bad", text: "broken" }), ` ${r.problem}`);
      return;
    }
    const best = r.best ? ` · best ${r.monitor} ${num(r.best[r.monitor])} at epoch ${r.best.epoch}` : "";
    status.replaceChildren(badge(r.status, r.reason),
      ` ${r.epochs_done} of ${r.epochs} epochs${best} · ${r.date}`);
    live.textContent = r.progress ? progressText(r.progress) : "";
    live.hidden = !r.progress;
    for (const { name, keys } of curves(r.history)) {
      let div = charts.querySelector(`[data-chart="${CSS.escape(name)}"]`);
      if (!div) {
        div = el("div", { class: "chart", "data-chart": name });
        charts.append(div);
      }
      drawChart(div, name, historyTraces(r.history, keys));
    }
  };
  render(shown);
  if (!shown.problem) {
    const matrices = Object.entries(shown.confusion || {});
    if (matrices.length) {
      extra.append(el("h2", { text: "Confusion matrix" }));
      for (const [where, m] of matrices) {
        const div = el("div", { class: "chart confusion", "data-confusion": where, style: "height:420px;max-width:560px" });
        extra.append(div);
        drawConfusion(div, where, m);
      }
    }
    extra.append(el("h2", { text: "Config" }), el("pre", { id: "run-config", lines: shown.config }));
    extra.append(el("p", {}, el("a", { href: `#/try?kind=run&source=${encodeURIComponent(path)}`,
      text: "try this run's best weights" })));
  }
  timer = setInterval(async () => {
    try {
      const next = await call(url);
      const moved = JSON.stringify(next.progress) !== JSON.stringify(shown.progress);
      if (moved || next.epochs_done !== shown.epochs_done || next.status !== shown.status) render(next);
      shown = next;
    } catch (e) { showError(e.message); }
  }, POLL_MS);
}

async function compare(main, params) {
  const paths = params.getAll("run");
  main.append(el("h2", { text: `Comparing ${paths.length} runs` }));
  const charts = el("div", { class: "charts", id: "overlay" });
  main.append(charts);
  const draw = async () => {
    const found = await Promise.all(paths.map((p) => call(`/api/run?path=${encodeURIComponent(p)}`)
      .catch((e) => ({ path: p, problem: e.message }))));
    const usable = found.filter((r) => !r.problem);
    for (const r of found.filter((r) => r.problem)) showError(`${r.path}: ${r.problem}`);
    for (const key of ["val_acc", "val_loss", "train_loss", "lr"]) {
      let div = charts.querySelector(`[data-chart="${key}"]`);
      if (!div) { div = el("div", { class: "chart", "data-chart": key }); charts.append(div); }
      drawChart(div, key, usable.map((r) => ({ ...historyTraces(r.history, [key])[0], name: plain(r.path) })));
    }
  };
  await draw();
  timer = setInterval(() => draw().catch((e) => showError(e.message)), POLL_MS * 2);
}

// --- Studies ----------------------------------------------------------------------------------

// A value as the study's metric is written: an accuracy as a percentage, else a number.
const metricValue = (metric, v) => (metric && metric.endsWith("acc") ? pct(v) : num(v));
const stateCounts = (states) => Object.entries(states || {}).map(([s, n]) => `${n} ${s}`).join(", ") || "none";

async function studies(main) {
  const listed = await call("/api/studies");
  document.getElementById("folder").textContent = visible(listed.folder);
  main.append(el("h2", { text: `Studies under ${listed.folder}` }));
  if (!listed.studies.length) {
    main.append(el("p", { class: "muted", text: "No studies here yet: zoo tune NAME --space KEY=DIST makes one, zoo sweep a grid." }));
    return;
  }
  const head = el("tr", {}, ["study", "kind", "run", "metric", "trials", "states", "best"]
    .map((t) => el("th", { text: t })));
  const rows = listed.studies.map((s) => {
    if (s.problem) {
      return el("tr", { class: "broken", "data-path": s.path }, el("td", {}, el("code", { text: s.path })),
        el("td", { text: s.kind }), el("td", { colspan: 5, text: s.problem }));
    }
    const open = () => { location.hash = `#/study?path=${encodeURIComponent(s.path)}`; };
    return el("tr", { class: "link", "data-path": s.path, onclick: open },
      el("td", {}, el("code", { text: s.path })), el("td", { text: s.kind }), el("td", { text: s.name }),
      el("td", { text: `${s.metric} (${s.mode})` }), el("td", { class: "num", text: s.trials }),
      el("td", { text: stateCounts(s.states) }), el("td", { class: "num", text: metricValue(s.metric, s.best) }));
  });
  main.append(el("table", { id: "studies" }, el("thead", {}, head), el("tbody", {}, rows)));
}

async function study(main, params) {
  const path = params.get("path");
  const url = `/api/study?path=${encodeURIComponent(path)}`;
  let shown = await call(url);
  const title = el("h2", { id: "study-title" });
  const summary = el("p", { id: "study-summary" });
  const chart = el("div", { class: "chart", id: "study-history", style: "height:320px" });
  const weights = el("p", { id: "study-importances", class: "muted" });
  const table = el("table", { id: "trials" });
  main.append(title, summary, chart, weights, table);
  const render = (s) => {
    title.textContent = visible(`${s.path}: a ${s.kind} of ${s.name}, ${s.metric} (${s.mode})`);
    const states = {};
    for (const t of s.trials) states[t.state] = (states[t.state] || 0) + 1;
    const best = s.trials.find((t) => t.number === s.best);
    summary.textContent = visible(`${s.trials.length} trials (${stateCounts(states)})` +
      (best ? `; best: trial ${best.number}, ${s.metric} ${metricValue(s.metric, best.value)}` : ""));
    const trace = (key, name, mode) => ({ x: s.history.map((h) => h.number), y: s.history.map((h) => h[key]),
      name, mode, type: "scatter" });
    Plotly.react(chart, [trace("value", "trial", "markers"), trace("best", "best so far", "lines")], {
      title: { text: "optimisation history", font: { size: 14 } }, margin: { l: 60, r: 10, t: 36, b: 36 },
      xaxis: { title: { text: "trial" }, dtick: s.trials.length > 15 ? undefined : 1 },
      yaxis: { title: { text: plain(s.metric) }, tickformat: ".4~g" },
      legend: { x: 1, xanchor: "right", y: 1, bgcolor: "rgba(255,255,255,0.7)" }, uirevision: "history",
    }, plotConfig);
    const shares = Object.entries(s.importances);
    weights.textContent = shares.length ? visible(`importances (Optuna's fANOVA): ${shares
      .map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`) : "";
    const head = el("tr", {}, ["trial", "state", s.metric, "epochs", ...s.keys].map((t) => el("th", { text: t })));
    const rows = s.trials.map((t) => {
      const open = t.run ? () => { location.hash = `#/run?path=${encodeURIComponent(t.run)}`; } : null;
      const value = t.value === null ? "-" : metricValue(s.metric, t.value) +
        (t.seeds > 1 && t.sd !== null ? ` ± ${num(t.sd)} (${t.seeds})` : "");
      return el("tr", { class: open ? "link" : null, "data-trial": t.number, "data-run": t.run, onclick: open },
        el("td", { class: "num", text: t.number }), el("td", {}, badge(t.state === "complete" ? "complete" : t.state)),
        el("td", { class: "num", text: value }), el("td", { class: "num", text: t.epochs }),
        ...s.keys.map((k) => el("td", { class: "num", text: typeof t.params[k] === "number" ?
          Number(t.params[k]).toPrecision(4) : (t.params[k] ?? "-") })));
    });
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
  };
  render(shown);
  timer = setInterval(async () => {
    try {
      if (document.hidden) return;
      const next = await call(url);
      if (JSON.stringify(next) !== JSON.stringify(shown)) { shown = next; render(next); }
    } catch (e) { showError(e.message); }
  }, POLL_MS * 2);
}

// --- Try --------------------------------------------------------------------------------------

async function tryView(main, params) {
  const found = await call("/api/try");
  const group = (kind, label) => el("optgroup", { label },
    found.sources.filter((s) => s.kind === kind).map((s) => el("option", { value: s.value, text: s.label })));
  const select = el("select", { id: "source" },
    group("weights", "weights"), group("run", `runs under ${found.folder}`));
  const wanted = params.get("source") ? `${params.get("kind") || "weights"}:${params.get("source")}` : null;
  // the weights asked for, else the best for the canvas (digits, highest test accuracy)
  const pick = [wanted, found.default].find((v) => v && [...select.options].some((o) => o.value === v));
  if (pick) select.value = pick;
  const current = () => {
    const [kind, ...rest] = select.value.split(":");
    return { kind, source: rest.join(":") };
  };
  const shapeNote = el("p", { id: "shape-note", class: "muted" });
  const pad = el("canvas", { id: "pad", width: 280, height: 280 });
  const bars = el("ol", { id: "predictions", class: "bars" });
  const uploads = el("ul", { id: "uploads", class: "uploads" });
  const fileInput = el("input", { id: "upload", type: "file", accept: "image/*", multiple: true });
  const drop = el("div", { id: "drop" }, "Drop pictures here, or ", fileInput);
  const gridButton = el("button", { id: "grid", text: "Show validation images, mistakes first" });
  const dataPath = el("input", { id: "data-path", type: "text", size: 36,
    placeholder: "where the dataset is (optional, e.g. data/mnist)" });
  const grid = el("div", { id: "grid-out" });
  const padBox = el("div", {}, el("div", {}, pad),
    el("button", { id: "clear", text: "Clear", onclick: () => { clearPad(); bars.replaceChildren(); } }),
    el("span", { id: "pad-hint", class: "muted", text: "  draw a digit: the prediction follows your strokes" }));
  const padRow = el("div", { class: "row" }, padBox, el("div", {}, el("h2", { text: "Top classes" }), bars));
  main.append(el("h2", { text: "Try a model" }), el("p", {}, "Weights: ", select), shapeNote, padRow,
    el("h2", { text: "Or a picture" }), drop, uploads,
    el("h2", { text: "Validation images" }), el("p", {}, gridButton, "  ", dataPath,
      el("span", { class: "muted", text: " (as --set dataset.path=...; default: where the weights' data is)" })),
    grid);

  const ctx = pad.getContext("2d");
  const clearPad = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); inked = false; };
  let inked = false, drawing = false, last = null, inFlight = false, again = false;
  clearPad();

  const showBars = (target, predictions) => target.replaceChildren(...predictions.map(([label, p]) =>
    el("li", { "data-class": label }, el("span", { class: "bar", style: `width:${Math.max(2, 160 * p)}px` }),
      `${label}  ${(100 * p).toFixed(1)}%`)));

  async function predictBlob(blob, name = "drawing") {
    const { kind, source } = current();
    const q = `kind=${encodeURIComponent(kind)}&source=${encodeURIComponent(source)}&top=5` +
      `&name=${encodeURIComponent(name)}`;
    const body = await post(`/api/predict?${q}`, blob, blob.type || "application/octet-stream");
    return body.predictions;
  }

  async function predictPad() {
    if (!inked) return;
    bars.dataset.busy = "1"; // until the answer for the newest strokes is shown
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const blob = await new Promise((done) => pad.toBlob(done, "image/png"));
      showBars(bars, await predictBlob(blob));
      showError("");
    } catch (e) { showError(e.message); }
    inFlight = false;
    if (again) { again = false; predictPad(); } else delete bars.dataset.busy;
  }

  const point = (e) => {
    const box = pad.getBoundingClientRect();
    return [(e.clientX - box.left) * pad.width / box.width, (e.clientY - box.top) * pad.height / box.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true; last = point(e); pad.setPointerCapture(e.pointerId);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const next = point(e);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 22; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...next); ctx.stroke();
    last = next; inked = true;
    predictPad(); // at most one request at a time; the newest strokes go in the next one
  });
  const stop = () => { if (drawing) { drawing = false; predictPad(); } };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointerleave", stop);

  async function predictFiles(files) {
    for (const file of files) {
      const item = el("li", { "data-file": file.name },
        el("img", { src: URL.createObjectURL(file), alt: file.name }),
        el("span", { class: "file", text: `${file.name}: ` }), el("span", { class: "top", text: "…" }));
      uploads.append(item);
      try {
        const predictions = await predictBlob(file, file.name);
        item.querySelector(".top").textContent =
          visible(predictions.map(([label, p]) => `${label} ${(100 * p).toFixed(1)}%`).join(", "));
        item.dataset.predicted = predictions[0][0];
      } catch (e) {
        item.querySelector(".top").textContent = `Error: ${visible(e.message)}`;
        item.classList.add("error");
      }
    }
  }
  fileInput.addEventListener("change", () => { predictFiles([...fileInput.files]); fileInput.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over"); predictFiles([...e.dataTransfer.files]);
  });

  gridButton.addEventListener("click", async () => {
    gridButton.disabled = true;
    grid.replaceChildren(el("p", { class: "muted", text: "evaluating on the validation split…" }));
    try {
      const found = await post("/api/mistakes",
        JSON.stringify({ ...current(), count: 32, data: dataPath.value.trim() || null }));
      const wrong = found.rows.filter((r) => r.true_name !== r.predicted_name).length;
      grid.replaceChildren(
        el("p", { id: "grid-summary", text: `${found.source}: validation accuracy ${pct(found.acc)} on ` +
          `${found.samples} samples; the ${found.rows.length} it gets most wrong (highest loss) ` +
          `first, ${wrong} of them mistakes. Each picture says true>predicted and the confidence.` }),
        el("div", { id: "grid-picture" }, found.picture ? el("img", { src: found.picture, alt: "validation images" }) : null),
        el("table", { id: "grid-rows" },
          el("thead", {}, el("tr", {}, ["#", "sample", "true", "predicted", "confidence", "loss"].map((t) => el("th", { text: t })))),
          el("tbody", {}, found.rows.map((r, i) => el("tr", { class: r.true_name !== r.predicted_name ? "wrong" : "" },
            el("td", { class: "num", text: i + 1 }), el("td", { class: "num", text: r.index }),
            el("td", { text: r.true_name }), el("td", { text: r.predicted_name }),
            el("td", { class: "num", text: pct(r.probability) }), el("td", { class: "num", text: num(r.loss) }))))));
    } catch (e) {
      grid.replaceChildren(el("p", { class: "error", text: `Error: ${e.message}` }));
    }
    gridButton.disabled = false;
  });

  async function chosen() {
    bars.replaceChildren(); uploads.replaceChildren(); grid.replaceChildren(); showError("");
    const { kind, source } = current();
    const chosenSource = found.sources.find((s) => s.kind === kind && s.source === source);
    const shape = chosenSource ? chosenSource.input_shape : null;
    const drawable = chosenSource ? chosenSource.drawable : false;
    padRow.hidden = !drawable;
    padBox.querySelector("#pad-hint").textContent = chosenSource && chosenSource.digits
      ? "  draw a digit: the prediction follows your strokes"
      : `  draw in white on black (read at ${shape ? shape.slice(1).join(" x ") : "its size"}): the prediction follows your strokes`;
    const colour = shape && shape.length === 3 && shape[0] === 3 ? " (colour pictures)" : "";
    shapeNote.textContent = drawable ? "" : `This model reads input ${shape ? shape.join(" x ") : "of a shape it does not record"}${colour}: drop a picture instead of drawing.`;
    clearPad();
  }
  select.addEventListener("change", chosen);
  if (select.value) await chosen();
  else shapeNote.textContent = "No usable weights or runs to try.";
}

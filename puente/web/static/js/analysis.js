// Analysis pages (#/analysis/<view>): one view per analysis, each a picture (flows, map or graph) and its tables,
// read from the analyze API. Columns are rendered generically (other analyses add columns): labels come from
// the strings ("col.<name>") or the model's field labels, category values from the vocabularies or "val.<col>.<v>",
// numbers in the reader's locale. A row drills down to the records or entities behind it.
(function () {
  const VIEWS = {
    corridors: {analysis: "corridors", tables: ["top_kg", "flows", "ports", "shifts"], sankey: {table: "flows", path: ["origin", "crossing", "destination"], weight: "kg"}},
    alerts: {analysis: "alerts", tables: ["alerts", "evidence", "neighbours"], points: "alerts"},
    hotspots: {analysis: "hotspots", tables: ["cells"], cells: true, rows: {cells: (r) => r.events > 0 && (hotRes === null || r.resolution === hotRes)}, sort: {cells: (a, b) => (b.gi_z || 0) - (a.gi_z || 0)}},
    chains: {analysis: "precursors", tables: ["chains", "risk", "weights", "lab_regions"], sankey: {table: "chains", path: ["chemical", "company_label", "person_label", "lab_ref"], weight: null}},
    firearms: {analysis: "firearms", tables: ["state_flows", "time_to_crime", "source_states", "dealers", "purchasers", "purchaser_names", "multiple_sales", "shared_corridors"],
      sankey: {table: "state_flows", path: ["purchase_state", "recovery_state"], weight: "traces"}, bars: {table: "time_to_crime", x: "bucket", y: "traces"}},
    players: {analysis: "networks", tables: ["players", "edges"], graph: true},
  };
  const SHOWN = 200;
  let hotRes = null;  // the hotspot view shows one H3 resolution at a time (the coarsest by default)
  let map = null, cy = null, chart = null;
  const ID = /^[\w.-]+:[a-z_]+:[0-9a-f]{6,}$/;  // a record id (node:kind:hash): opens the entity page
  const colLabel = (c) => {
    const s = STRINGS[P.lang]["col." + c] || STRINGS.en["col." + c];
    if (s) return s;
    for (const k of Object.values(P.model.kinds)) if (k.fields[c]) return k.fields[c].label[P.lang];
    return c.replace(/_/g, " ");
  };
  const vocabOf = (c) => {
    for (const k of Object.values(P.model.kinds)) if (k.fields[c] && k.fields[c].vocab) return k.fields[c].vocab;
    return null;
  };
  // a cell's value in the reader's language: numbers with separators, codes through the vocabularies
  const value = (c, v) => {
    if (v == null || v === "") return "–";
    if (typeof v === "boolean") return P.t(v ? "yes" : "no");
    if (typeof v === "number") return /p_value|q_value/.test(c) ? (v < 0.001 ? "< 0.001" : P.num(v, 3)) : Number.isInteger(v) ? P.num(v) : P.num(v, /share|ratio|rho|z$/.test(c) ? 2 : 1);
    const s = String(v);
    if (/^\d{4}-\d\d-\d\dT00:00:00$/.test(s)) return s.slice(0, 10);
    if (s === "?") return P.t("unknown");
    const code = STRINGS[P.lang]["val." + c + "." + s] || STRINGS.en["val." + c + "." + s];
    if (code) return code;
    if (c === "kind" && P.model.kinds[s]) return P.kindLabel(s);
    const vocab = vocabOf(c);
    return vocab ? P.term(vocab, s) : s;
  };
  const cellHtml = (c, v) => typeof v === "string" && ID.test(v)
    ? `<a href="#/entity/${encodeURIComponent(v)}">${P.esc(v.split(":").slice(1).join(":").slice(0, 22))}…</a>` : P.esc(value(c, v));

  const tableCard = (name, tbl, rows, onRow) => {
    const card = document.createElement("section");
    card.className = "card";
    card.setAttribute("aria-labelledby", "h-" + name);
    // a coded column the analysis also gives in English and Spanish (chemical, chemical_en, chemical_es): one column,
    // in the reader's language
    const has = new Set(tbl.columns), twin = (c) => /_(en|es)$/.test(c) && has.has(c.slice(0, -3));
    const cols = tbl.columns.filter((c) => c !== "boundary" && !twin(c));
    const shown = (r, c) => has.has(c + "_" + P.lang) && r[c + "_" + P.lang] != null && r[c + "_" + P.lang] !== "" ? r[c + "_" + P.lang] : r[c];
    card.innerHTML = `<h2 id="h-${P.esc(name)}">${P.esc(P.t("table." + name) === "table." + name ? colLabel(name) : P.t("table." + name))}</h2>
      <div class="small muted">${P.esc(P.t("rows_shown").replaceAll("{shown}", P.num(Math.min(SHOWN, rows.length))).replaceAll("{total}", P.num(tbl.total)))}</div>`;
    if (!rows.length) { card.insertAdjacentHTML("beforeend", `<div class="empty">${P.t("no_rows")}</div>`); return card; }
    const t = P.table(cols.map((c) => ({label: colLabel(c), num: typeof rows[0][c] === "number", html: (r) => has.has(c + "_" + P.lang) && shown(r, c) !== r[c] ? P.esc(shown(r, c)) : cellHtml(c, r[c])})), rows.slice(0, SHOWN), onRow);
    t.tabIndex = 0; t.setAttribute("role", "region"); t.setAttribute("aria-label", colLabel(name));
    card.appendChild(t);
    return card;
  };
  // The records behind a row, as links to their entity pages.
  const drill = async (title, items) => {
    const box = document.getElementById("an-drill");
    box.classList.remove("hidden");
    box.innerHTML = `<h2>${P.esc(title)}</h2>` + (items.length ? "" : `<div class="empty">${P.t("no_records")}</div>`);
    items.slice(0, SHOWN).forEach((x) => {
      const a = document.createElement("a");
      a.className = "rec"; a.href = "#/entity/" + encodeURIComponent(x.id);
      a.innerHTML = `<b>${P.esc(x.label)}</b><span class="meta">${P.esc(x.meta || "")}</span>`;
      box.appendChild(a);
    });
    box.focus();
  };
  // kilograms with the digits a small quantity needs (0.03 kg, not "0 kg")
  const kg = (v) => P.num(v, Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3) + " kg";
  const seizureItem = (p) => ({id: p.id, label: P.term("drugs", p.drug) + " " + (p.quantity_kg != null ? kg(p.quantity_kg) : P.qty(p.quantity, p.unit, 0)),
    meta: [p.date, p.place_name || p.place_text, p.owner_node].filter(Boolean).join(" · ")});

  // Flows as a Sankey of columns (origin → crossing → destination): node heights and band widths by weight.
  const sankey = (box, rows, path, weight) => {
    const W = Math.max(480, box.clientWidth || 720), H = 360, pad = 6, nodeW = 12;
    const cols = path.map(() => new Map()), links = new Map();
    rows.forEach((r) => {
      const w = weight ? Number(r[weight]) || 0 : 1;  // no weight column: each row (chain) counts once
      if (w <= 0) return;
      path.forEach((c, i) => { const k = String(r[c] ?? "?"); cols[i].set(k, (cols[i].get(k) || 0) + w); });
      for (let i = 0; i + 1 < path.length; i++) {
        const key = i + "\u0000" + (r[path[i]] ?? "?") + "\u0000" + (r[path[i + 1]] ?? "?");
        links.set(key, (links.get(key) || 0) + w);
      }
    });
    const total = [...cols[0].values()].reduce((a, b) => a + b, 0);
    if (!total) { box.innerHTML = `<div class="empty">${P.t("no_rows")}</div>`; return; }
    const pos = cols.map((m, i) => {
      const keys = [...m.keys()].sort((a, b) => m.get(b) - m.get(a)).slice(0, 14);
      const scale = (H - pad * (keys.length + 1)) / keys.reduce((a, k) => a + m.get(k), 0);
      let y = pad; const out = new Map();
      keys.forEach((k) => { const h = Math.max(2, m.get(k) * scale); out.set(k, {y, h, used: 0, usedIn: 0, scale}); y += h + pad; });
      return out;
    });
    const x = (i) => 8 + i * (W - 16 - nodeW - 150) / Math.max(1, path.length - 1);
    let svg = "";
    [...links.entries()].sort((a, b) => b[1] - a[1]).forEach(([key, w]) => {
      const [i, a, b] = key.split("\u0000"), s = pos[+i].get(a), t = pos[+i + 1].get(b);
      if (!s || !t) return;
      const hs = w * s.scale, ht = w * t.scale, x0 = x(+i) + nodeW, x1 = x(+i + 1);
      const y0 = s.y + s.used + hs / 2, y1 = t.y + t.usedIn + ht / 2;
      s.used += hs; t.usedIn += ht;
      svg += `<path d="M${x0},${y0} C${(x0 + x1) / 2},${y0} ${(x0 + x1) / 2},${y1} ${x1},${y1}" fill="none" stroke="#0f766e" stroke-opacity=".35" stroke-width="${Math.max(1, (hs + ht) / 2)}"><title>${P.esc(value(path[i], a))} → ${P.esc(value(path[+i + 1], b))}: ${P.esc(P.num(w, 1))}</title></path>`;
    });
    // a label fits between its column and the next (about 6 px a character); longer ones are cut, whole in the tooltip
    const room = Math.max(8, Math.floor((path.length > 1 ? x(1) - x(0) - nodeW - 8 : 150) / 6.2));
    const fit = (text, i) => { const n = i + 1 < path.length ? room : 22; return text.length > n ? text.slice(0, n - 1) + "…" : text; };
    pos.forEach((m, i) => m.forEach((n, k) => {
      const name = `${value(path[i], k)} (${P.num(cols[i].get(k), 0)})`;  // small nodes: named in their tooltip only
      svg += `<rect x="${x(i)}" y="${n.y}" width="${nodeW}" height="${n.h}" fill="#0b1f33"><title>${P.esc(name)}</title></rect>` +
        (n.h >= 9 ? `<text x="${x(i) + nodeW + 4}" y="${n.y + n.h / 2 + 4}" font-size="11" fill="#1c2733">${P.esc(fit(name, i))}</text>` : "");
    }));
    const alt = path.map(colLabel).join(" → ") + ": " + [...links.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)
      .map(([key, w]) => { const [i, a, b] = key.split("\u0000"); return `${value(path[i], a)} → ${value(path[+i + 1], b)} ${P.num(w, 1)}`; }).join("; ");
    box.innerHTML = `<div class="small muted">${P.esc(path.map(colLabel).join(" → "))} · ${P.esc(weight ? colLabel(weight) : P.t("rows_count"))}</div>` +
      `<svg class="sankey" viewBox="0 0 ${W} ${H}" width="100%" height="${H}" role="img" aria-label="${P.esc(alt)}">${svg}</svg>`;
  };

  const smallMap = async (box) => {
    box.innerHTML = `<div id="an-map" class="an-map" role="region" aria-label="${P.esc(P.t("nav_map"))}"></div>`;
    // no zoom animation: a view may be left (the map removed) while a fit to the alerts or a cell is under way
    map = L.map("an-map", {preferCanvas: true, attributionControl: true, zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false}).setView([27.5, -104], 5);
    map.attributionControl.setPrefix("Leaflet · Natural Earth · U.S. Census · INEGI");
    const shapes = await P.basemap();
    if (!map) return null;
    L.geoJSON(shapes.world, {style: {color: "#b8c4d0", weight: .6, fillColor: "#eef2f5", fillOpacity: 1}, interactive: false}).addTo(map);
    L.geoJSON(shapes.us, {style: {color: "#94a3b8", weight: .8, fillColor: "#fff", fillOpacity: 1}, interactive: false}).addTo(map);
    L.geoJSON(shapes.mx, {style: {color: "#94a3b8", weight: .8, fillColor: "#fbfaf5", fillOpacity: 1}, interactive: false}).addTo(map);
    return map;
  };
  const graph = (box, players, edges) => {
    box.innerHTML = `<div id="an-graph" class="an-graph" role="img" aria-label="${P.esc(P.t("graph_alt").replaceAll("{n}", P.num(players.length)).replaceAll("{e}", P.num(edges.length)))}"></div>`;
    const top = players.slice(0, 60), ids = new Set(top.map((p) => p.entity));
    cy = cytoscape({container: document.getElementById("an-graph"),
      elements: [...top.map((p) => ({data: {id: p.entity, label: `${p.rank ?? ""}. ${p.label || p.entity}`, size: 14 + 30 / Math.max(1, p.rank || 10)}})),
                 ...edges.filter((e) => ids.has(e.a) && ids.has(e.b)).map((e, i) => ({data: {id: "e" + i, source: e.a, target: e.b, w: e.weight || 1}}))],
      style: [{selector: "node", style: {"background-color": "#0f766e", label: "data(label)", "font-size": 9, width: "data(size)", height: "data(size)", color: "#1c2733"}},
              {selector: "edge", style: {width: "mapData(w, 1, 10, 1, 5)", "line-color": "#94a3b8"}}],
      layout: {name: "cose", animate: false, padding: 20}});
    cy.on("tap", "node", (ev) => { location.hash = "#/entity/" + encodeURIComponent(ev.target.id()); });
  };

  const render = async (el, arg) => {
    const gen = P.gen, name = VIEWS[arg] ? arg : "corridors", view = VIEWS[name];
    el.innerHTML = `<nav class="tabs" aria-label="${P.esc(P.t("nav_analysis"))}">${Object.keys(VIEWS).map((v) =>
      `<a href="${P.link("analysis/" + v)}"${v === name ? ' aria-current="page" class="on"' : ""}>${P.esc(P.t("an." + v))}</a>`).join("")}</nav>
      <p class="muted small">${P.esc(P.t("an_help." + name))}</p>
      <div id="an-status" class="small note hidden" role="status" aria-live="polite"></div>
      <div class="grid g2"><div class="card" id="an-visual"></div><div class="card" id="an-drill" tabindex="-1" role="region" aria-label="${P.esc(P.t("drill"))}"><div class="small muted">${P.esc(P.t("drill_help"))}</div></div></div>
      <div id="an-tables"></div>`;
    const status = document.getElementById("an-status");
    if (P.purpose().length < 5) { status.textContent = P.t("an_needs_purpose"); status.classList.remove("hidden"); return; }
    // an analysis needs records of one kind: without any, say so instead of asking
    const [cat, st] = await Promise.all([P.api("/api/v1/analytics", {}, {purpose: false}), P.api("/api/v1/status")]);
    if (P.staleSince(gen)) return;
    const needs = (cat.analyses.find((a) => a.name === view.analysis) || {}).needs;
    if (needs && !st.counts.some((c) => c.kind === needs && c.records > 0)) {
      status.textContent = P.t("an_no_data").replaceAll("{kind}", P.kindLabel(needs)); status.classList.remove("hidden"); return;
    }
    status.innerHTML = `<span class="spinner" aria-hidden="true"></span> ${P.esc(P.t("an_running"))}`;
    status.classList.remove("hidden");
    let res;
    try { res = await P.api("/api/v1/analytics/" + view.analysis, {limit: 5000}); } catch (e) {
      if (!P.staleSince(gen)) status.textContent = e.message;
      return;
    }
    if (P.staleSince(gen)) return;
    status.classList.add("hidden");
    const tables = res.tables, rowsOf = (t) => {
      const rows = (tables[t] ? tables[t].rows : []).filter((view.rows && view.rows[t]) || (() => true));
      return view.sort && view.sort[t] ? rows.sort(view.sort[t]) : rows;
    };
    const visual = document.getElementById("an-visual"), host = document.getElementById("an-tables");
    const onRow = {};
    if (view.sankey) sankey(visual, rowsOf(view.sankey.table), view.sankey.path, view.sankey.weight);
    if (view.bars && tables[view.bars.table]) {
      visual.insertAdjacentHTML("beforeend", `<h2>${P.esc(P.t("table." + view.bars.table))}</h2><div class="chart-box"><canvas id="an-bars"></canvas></div>`);
      // day ranges only: the table also holds quantiles (q10 … q90, in days, not counts of traces)
      const rows = rowsOf(view.bars.table).filter((r) => !/^q\d+$/.test(String(r[view.bars.x]))), canvas = document.getElementById("an-bars");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", rows.map((r) => `${r[view.bars.x]}: ${P.num(r[view.bars.y])}`).join("; "));
      chart = new Chart(canvas, {type: "bar", data: {labels: rows.map((r) => String(r[view.bars.x])), datasets: [{label: colLabel(view.bars.y), data: rows.map((r) => r[view.bars.y]), backgroundColor: "#0f766e"}]},
        options: {maintainAspectRatio: false, scales: {x: {title: {display: true, text: P.t("days")}}, y: {title: {display: true, text: colLabel(view.bars.y)}}}}});
    }
    if (view.points) {
      const m = await smallMap(visual);
      if (!m || P.staleSince(gen)) return;
      const located = rowsOf(view.points).filter((a) => a.lat != null);
      located.forEach((a) => L.circleMarker([a.lat, a.lon], {radius: 9, color: "#b45309", fillColor: "#fbbf24", fillOpacity: .9})
        .bindTooltip(`${P.esc(a.name)}, ${P.esc(a.admin1)}: ${P.num(a.count)} ${P.t("events")} (${P.t("expected")} ${P.num(a.expected, 1)})`).addTo(m));
      if (located.length) m.fitBounds(L.latLngBounds(located.map((a) => [a.lat, a.lon])).pad(0.15), {maxZoom: 7});  // every alert in view
      const evidence = rowsOf("evidence");
      onRow.alerts = (a) => drill(`${a.name}, ${a.admin1}: ${P.t("evidence")}`, evidence.filter((e) => e.alert_id === a.alert_id)
        .map((e) => ({id: e.id, label: P.kindLabel(e.kind) + (e.kg != null ? " " + kg(e.kg) : ""), meta: String(e.date || "").slice(0, 10)})));
    }
    if (view.cells) {
      const m = await smallMap(visual);
      if (!m || P.staleSince(gen)) return;
      // hot cells in red, the others (not significant, cold) in grey: every cell with events can be drilled into
      const all = (res.geojson.cells || {}).features || [], resolutions = [...new Set(all.map((f) => f.properties.resolution))].sort((a, b) => a - b);
      if (hotRes === null || !resolutions.includes(hotRes)) hotRes = resolutions.length ? resolutions[0] : null;
      if (resolutions.length > 1) {
        visual.insertAdjacentHTML("afterbegin", `<label for="an-res" class="small">${P.esc(P.t("col.resolution"))}</label> <select id="an-res">${resolutions.map((r) =>
          `<option value="${r}"${r === hotRes ? " selected" : ""}>${r}</option>`).join("")}</select>`);
        document.getElementById("an-res").addEventListener("change", (e) => { hotRes = +e.target.value; P.route(); });
      }
      const feats = all.filter((f) => f.properties.resolution === hotRes), hot = (f) => f.properties.hotspot === "hot";
      const layer = L.geoJSON({type: "FeatureCollection", features: feats}, {style: (f) => hot(f)
        ? {color: "#b91c1c", weight: 1, fillColor: "#ef4444", fillOpacity: Math.min(.8, .25 + (f.properties.gi_z || 0) / 10)}
        : {color: "#64748b", weight: .6, fillColor: "#94a3b8", fillOpacity: .25}})
        .bindTooltip((l) => `${P.esc(l.feature.properties.place || "")} · ${P.esc(value("hotspot", l.feature.properties.hotspot))} · z = ${P.num(l.feature.properties.gi_z, 2)} · ${P.num(l.feature.properties.events)} ${P.t("events")}`).addTo(m);
      const hotLayer = L.geoJSON({type: "FeatureCollection", features: feats.filter(hot)});
      // a fine cell is a few pixels wide at the zoom that shows them all: each hot cell also gets a marker
      hotLayer.eachLayer((l) => L.circleMarker(l.getBounds().getCenter(), {radius: 6, color: "#7f1d1d", weight: 1, fillColor: "#ef4444", fillOpacity: .8})
        .bindTooltip(`${P.esc(l.feature.properties.place || "")} · z = ${P.num(l.feature.properties.gi_z, 2)}`).addTo(m));
      if (feats.length) m.fitBounds((feats.some(hot) ? hotLayer : layer).getBounds(), {maxZoom: 7});
      const byCell = new Map(feats.map((f) => [f.properties.cell, f]));
      onRow.cells = async (r) => {
        const f = byCell.get(r.cell);
        if (!f) return;
        const b = L.geoJSON(f).getBounds(), bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(4)).join(",");
        m.fitBounds(b);
        const fc = await P.api("/api/v1/records/seizure", {bbox, per_page: SHOWN, format: "geojson"});
        drill(`${r.place || r.cell}: ${P.num(fc.total)} ${P.t("records")}`, fc.features.map((x) => seizureItem(x.properties)));
      };
    }
    if (view.analysis === "corridors") {
      // the seizures behind a flow (its period and corridor), a top corridor (every period) or a route shift
      // (its port, and destination when the shift is one): matched on the server, read through the caller's view
      const flow = async (r, keys, shift = false) => {
        const params = {}, parts = [];
        keys.forEach((k) => { if (r[k] != null && r[k] !== "") { params[k] = r[k]; parts.push(value(k, r[k])); } });
        if (r.period) { params.at = r.period; if (shift) params.shift = true; }
        const got = await P.api("/api/v1/analytics/corridors/flow", {...params, limit: SHOWN});
        const hidden = got.total - got.visible;
        drill(`${parts.join(" → ")}${r.period ? " · " + String(r.period).slice(0, 7) : ""}: ${P.num(got.total)} ${P.t("records")}` +
          (hidden > 0 ? ` (${P.t("drill_hidden").replaceAll("{n}", P.num(hidden))})` : ""), got.items.map(seizureItem));
      };
      onRow.flows = (r) => flow(r, ["origin", "crossing", "destination"]);
      onRow.top_kg = (r) => flow(r, ["origin", "crossing", "destination"]);
      onRow.top = (r) => flow(r, ["crossing", "destination"]);
      // a shift counts the loads of its monitor's window: the server matches those periods
      onRow.shifts = (r) => flow(r, ["crossing", "destination"], true);
      // a port's seizures in the row's month: asked by the month and the port's name, then matched on its id
      onRow.ports = async (r) => {
        const month = String(r.period || "").slice(0, 7);
        const page = await P.api("/api/v1/records/seizure", {q: r.port, date_from: P.dateFrom(month), date_to: P.dateTo(month), per_page: 10000});
        const got = page.items.filter((x) => x.port_id === r.port_id);
        drill(`${r.port} · ${month}: ${P.num(got.length)} ${P.t("records")}`, got.map(seizureItem));
      };
    }
    if (view.analysis === "firearms") {
      // the traces behind a row: asked by the state (or the dealer's FFL, searched as text), then matched exactly
      const traces = async (params, keep, title) => {
        const page = await P.api("/api/v1/records/firearm_trace", {...params, per_page: 10000});
        const got = page.items.filter(keep);
        drill(`${title}: ${P.num(got.length)} ${P.t("records")}`, got.map((x) => ({id: x.id, label: [x.make, x.model, x.serial].filter(Boolean).join(" "),
          meta: [x.recovery_date, (x.purchase_state || "?") + " → " + (x.recovery_place_admin1 || x.recovery_place_name || "?"), x.dealer_ffl].filter(Boolean).join(" · ")})));
      };
      onRow.state_flows = (r) => traces({admin1: r.recovery_state}, (x) => x.purchase_state === r.purchase_state,
        `${r.purchase_state} → ${r.recovery_state}`);
      onRow.dealers = (r) => traces({q: r.dealer_ffl}, (x) => x.dealer_ffl === r.dealer_ffl, r.dealer_ffl);
    }
    if (view.graph) graph(visual, rowsOf("players"), rowsOf("edges"));
    const entityRow = (r) => { const id = Object.values(r).find((v) => typeof v === "string" && ID.test(v)); if (id) location.hash = "#/entity/" + encodeURIComponent(id); };
    view.tables.forEach((t) => {
      if (!tables[t]) return;
      const rows = rowsOf(t), hasId = rows.some((r) => Object.values(r).some((v) => typeof v === "string" && ID.test(v)));
      host.appendChild(tableCard(t, tables[t], rows, onRow[t] || (hasId ? entityRow : null)));
    });
  };
  P.pages.analysis = {render, leave: () => {
    if (map) { map.remove(); map = null; }
    if (cy) { cy.destroy(); cy = null; }
    if (chart) { chart.destroy(); chart = null; }
  }};
})();

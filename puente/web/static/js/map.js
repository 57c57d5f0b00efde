// Map page: seizures, labs, ports of entry, corridors and municipal seats over vendored state shapes,
// with filters, a time slider and the list of records in view.
(function () {
  let map = null, layers = {}, months = [], drawn = [], state = {win: 1200, idx: null, playing: null,
    on: {seizures: true, labs: true, corridors: true, ports: true, municipalities: false, hotspots: false, alerts: false}};
  const basemap = {};
  const loadShapes = async () => {
    if (basemap.ready) return basemap;
    const get = (f) => fetch("/static/vendor/shapes/" + f).then((r) => r.json());
    const [world, us, mx] = await Promise.all([get("world-countries-110m.topo.json"), get("us-states-10m.topo.json"), get("mx-states.topo.json")]);
    basemap.world = topojson.feature(world, world.objects.countries);
    basemap.us = topojson.feature(us, us.objects.states);
    basemap.mx = topojson.feature(mx, mx.objects.mex);
    basemap.ready = true;
    return basemap;
  };
  // the time window is the shared filters' from/to (months); the slider moves "to", the window sets "from"
  const fromFilters = () => {
    const f = P.filters();
    if (!months.length) return;
    const to = (f.to || "").slice(0, 7), from = (f.from || "").slice(0, 7);
    let idx = to ? months.filter((m) => m <= to).length - 1 : months.length - 1;
    if (idx < 0) idx = 0;
    state.idx = idx;
    state.win = from ? Math.max(1, idx - months.filter((m) => m < from).length + 1) : 1200;
  };
  const windowLabel = () => {
    const f = P.filters();
    if (!f.from && !f.to) return P.t("all_time");
    return (f.from || "…") + " → " + (f.to || "…");
  };
  const toFilters = () => {
    if (!months.length || state.idx === null) return;
    const next = {...P.filters()};
    next.to = months[state.idx];
    if (state.win >= 1200) delete next.from; else next.from = months[Math.max(0, state.idx - state.win + 1)];
    if (state.win >= 1200 && state.idx === months.length - 1) delete next.to;
    P.setFilters(next, true);
    P.syncFilterForm();
  };
  const filters = () => P.apiFilters("seizure");
  const radius = (kg) => Math.max(4, Math.min(26, 3 + Math.sqrt(kg || 0) * 1.6));
  // kilograms when the quantity converts to them, else the quantity in its own unit (pills are not weighed)
  const amount = (p) => p.quantity_kg != null ? P.num(p.quantity_kg, 1) + " kg" : p.quantity != null ? P.qty(p.quantity, p.unit, 0) : "–";
  const place = (p) => P.esc(p.place_name || p.place_text || "?") + (p.place_admin1 ? ", " + P.esc(p.place_admin1) : "");
  const popup = (p) => `<b>${P.esc(P.term("drugs", p.drug))}</b> · ${P.esc(amount(p))}` +
    (p.unit && p.unit !== "kg" && p.quantity != null && p.quantity_kg != null ? ` <span class="muted">(${P.esc(P.qty(p.quantity, p.unit))})</span>` : "") + "<br>" +
    `${P.esc(p.place_name || p.place_text || "")}${p.place_admin1 ? ", " + P.esc(p.place_admin1) : ""}<br>` +
    `<span class="muted">${P.esc(p.date)} · ${P.esc(p.source_agency || "")} · ${P.esc(p.owner_node)}</span><br>` +
    `<a href="#/entity/${encodeURIComponent(p.id)}">${P.t("open_entity")}</a>`;

  // H3 resolution for the zoom: cells some 20-40 px across at every zoom
  const resFor = (z) => z <= 4 ? 2 : z <= 5 ? 3 : z <= 7 ? 4 : z <= 8 ? 5 : z <= 9 ? 6 : z <= 10 ? 7 : 8;
  const busy = (key, on) => {
    const el = document.getElementById("map-busy");
    if (!el) return;
    state.busy = {...(state.busy || {}), [key]: on};
    const what = Object.keys(state.busy).filter((k) => state.busy[k]);
    el.textContent = what.length ? P.t("loading") + " " + what.map((k) => P.t(k)).join(", ") + "…" : "";
    el.classList.toggle("hidden", !what.length);
  };
  // Seizures: the totals always come from the server's aggregate over every match (/map/summary, the same
  // records as an export of the same filters); up to points_max located matches are drawn one by one, beyond
  // that as H3 cells at the zoom's resolution, and a note says so.
  const drawSeizures = async (f, stale) => {
    busy("seizures", true);
    try {
      const res = resFor(map.getZoom());
      // fine cells only around the view (half a view each side); a pan beyond it asks again (rebin)
      const around = res >= 5 ? map.getBounds().pad(.5) : null;
      const sum = await P.api("/api/v1/map/summary", {...f, resolution: res, within: around ? boxOf(around) : null});
      if (stale()) return;
      const fc = sum.binned ? null : await P.api("/api/v1/records/seizure", {...f, format: "geojson", per_page: sum.points_max});
      if (stale()) return;
      layers.seizures.clearLayers();
      state.binned = sum.binned; state.res = res; state.around = around;
      if (sum.binned) {
        const max = Math.max(1, ...sum.cells.map((c) => c.records));
        sum.cells.forEach((c) => {
          const label = `${P.num(c.records)} ${P.t("records")} · ${c.kg == null ? "–" : P.num(c.kg, 1)} kg · ${P.t("partner_records")}: ${P.num(c.partner_records)}`;
          L.polygon(c.boundary, {color: "#7f1d1d", weight: .6, fillColor: "#dc2626", fillOpacity: .12 + .68 * Math.sqrt(c.records / max)})
            .bindTooltip(label).on("click", () => map.fitBounds(L.polygon(c.boundary).getBounds())).addTo(layers.seizures);
        });
        drawn = [];
      } else {
        const feats = fc.features.filter((x) => x.geometry);
        feats.sort((a, b) => (b.properties.quantity_kg || 0) - (a.properties.quantity_kg || 0));
        feats.forEach((x) => {
          const p = x.properties, [lon, lat] = x.geometry.coordinates;
          L.circleMarker([lat, lon], {radius: radius(p.quantity_kg), color: "#fff", weight: 1, fillColor: P.drugColor(p.drug), fillOpacity: .78})
            .bindPopup(popup(p)).addTo(layers.seizures);
        });
        drawn = feats;
      }
      const t = sum.totals;
      const notes = [];
      if (sum.binned) notes.push(P.t("map_binned").replaceAll("{total}", P.num(t.located)).replaceAll("{cells}", P.num(sum.cells.length))
        .replaceAll("{res}", String(res)).replaceAll("{max}", P.num(sum.points_max)));
      if (t.located < t.records) notes.push(P.t("map_unlocated").replaceAll("{n}", P.num(t.records - t.located)));
      document.getElementById("map-summary").innerHTML = `<h2 class="small muted">${P.t("matching_total")}</h2><div class="grid g2"><div><div class="kpi" id="map-records">${P.num(t.records)}</div><small class="muted">${P.t("records")}</small></div>` +
        `<div><div class="kpi" id="map-kg">${P.num(t.kg)}</div><small class="muted">${P.t("kg")}</small></div></div>` +
        `<div class="small muted" style="margin-top:4px">${P.t("partner_records")}: <span id="map-partner">${P.num(t.partner_records)}</span></div>` +
        notes.map((n) => `<div class="small note" role="status">${P.esc(n)}</div>`).join("");
      inView();
    } finally { busy("seizures", false); }
  };
  // a zoom that changes the H3 resolution redraws the cells (the totals do not change)
  const rebin = () => {
    if (!map || !state.binned || !document.getElementById("lyr-seizures").checked) return;
    if (resFor(map.getZoom()) === state.res && (!state.around || state.around.contains(map.getBounds()))) return;
    const gen = P.gen, mine = (state.seq = (state.seq || 0) + 1);
    state.lseq = state.lseq || {};
    const ticket = state.lseq.seizures = (state.lseq.seizures || 0) + 1;
    drawSeizures(filters(), () => P.staleSince(gen) || ticket !== state.lseq.seizures).finally(() => { if (map) map.getContainer().dataset.drawn = String(mine); });
  };

  // draw(): every layer; draw("hotspots"): that layer only (a layer switched on or off redraws only itself).
  // Each layer has its own ticket: a newer draw of a layer makes the older one stop touching it.
  const draw = async (only) => {
    if (!map) return;
    const gen = P.gen, mine = (state.seq = (state.seq || 0) + 1), names = only ? [only] : Object.keys(layers), tickets = {};
    state.lseq = state.lseq || {};
    names.forEach((n) => { tickets[n] = state.lseq[n] = (state.lseq[n] || 0) + 1; });
    const staleFor = (n) => () => P.staleSince(gen) || tickets[n] !== state.lseq[n];
    const f = filters();
    document.getElementById("win-label").textContent = windowLabel();
    const tasks = [];
    const on = (name) => names.includes(name) && document.getElementById("lyr-" + name).checked;
    names.forEach((n) => layers[n].clearLayers());
    if (on("seizures")) tasks.push(drawSeizures(f, staleFor("seizures"))); else if (names.includes("seizures")) { drawn = []; state.binned = false; }
    if (on("labs")) tasks.push(P.api("/api/v1/records/lab_site", {...P.apiFilters("lab_site"), format: "geojson", per_page: 5000}).then((fc) => {
      if (staleFor("labs")()) return;
      fc.features.filter((x) => x.geometry).forEach((x) => {
        const p = x.properties, [lon, lat] = x.geometry.coordinates;
        L.marker([lat, lon], {title: P.t("labs") + ": " + (p.place_name || p.place_text || ""), icon: L.divIcon({className: "", html: `<div style="width:14px;height:14px;background:#f59e0b;border:2px solid #7c2d12;transform:rotate(45deg)"></div>`})})
          .bindPopup(`<b>${P.t("labs")}</b><br>${P.esc(P.term("lab_kinds", p.lab_kind))} · ${P.esc(P.term("lab_status", p.status))}<br>${P.esc(p.place_name || p.place_text)} · ${P.esc(p.date_found)}<br><a href="#/entity/${encodeURIComponent(p.id)}">${P.t("open_entity")}</a>`)
          .addTo(layers.labs);
      });
    }).catch(() => {}));
    if (on("corridors")) tasks.push(P.api("/api/v1/map/flows", {drug: f.drug, date_from: f.date_from, date_to: f.date_to}).then((flows) => {
      if (staleFor("corridors")()) return;
      const max = Math.max(1, ...flows.map((x) => x.kg));
      flows.forEach((x) => L.polyline([[x.port_lat, x.port_lon], [x.lat, x.lon]], {color: "#0f766e", weight: 1.5 + 9 * x.kg / max, opacity: .55})
        .bindTooltip(`${P.esc(x.port)} → ${P.esc(x.place)}: ${P.num(x.kg, 1)} kg (${x.records})`).addTo(layers.corridors));
    }));
    if (on("ports")) tasks.push(P.api("/api/v1/map/ports", {}, {purpose: false}).then((ports) => !staleFor("ports")() && ports.forEach((p) =>
      // a permanent name beside each port, shown once zoomed in enough to read them (CSS: .labels-on)
      L.tooltip({permanent: true, direction: "right", offset: [6, 0], className: "place-label", interactive: false})
        .setLatLng([p.lat, p.lon]).setContent(P.esc(p.name)).addTo(layers.ports) &&
      L.marker([p.lat, p.lon], {title: P.t("port") + ": " + p.name, icon: L.divIcon({className: "", html: '<div style="width:9px;height:9px;background:#0b1f33;border:2px solid #fff;box-shadow:0 0 0 1px #0b1f33"></div>'})})
        .bindTooltip(`${P.t("port")}: ${P.esc(p.name)}${p.twin ? " ↔ " + P.esc(p.twin) : ""}`).addTo(layers.ports))));
    if (on("municipalities")) tasks.push(P.api("/api/v1/map/municipalities", {}, {purpose: false}).then((ms) => !staleFor("municipalities")() && ms.forEach((m) =>
      L.circleMarker([m.lat, m.lon], {radius: 1.5, color: "#94a3b8", weight: 0, fillOpacity: .7}).bindTooltip(`${P.esc(m.name)}, ${P.esc(m.admin1)}`).addTo(layers.municipalities))));
    const purposeOk = P.purpose().length >= 5;
    if (on("hotspots") && purposeOk) busy("hotspots", true);
    if (on("hotspots") && purposeOk) tasks.push(P.api("/api/v1/analytics/hotspots", {limit: 1, hot_only: true}).finally(() => busy("hotspots", false)).then((res) => {
      if (staleFor("hotspots")()) return;
      const cells = (res.geojson.cells || {features: []});
      // the hot cells of one resolution (the coarsest the analysis tested), not several stacked on each other
      const coarse = Math.min(...cells.features.map((x) => x.properties.resolution ?? 99));
      L.geoJSON(cells, {filter: (f) => f.properties.hotspot === "hot" && (f.properties.resolution ?? 99) === coarse,
        style: (f) => ({color: "#b91c1c", weight: .5, fillColor: "#ef4444", fillOpacity: Math.min(.75, .15 + (f.properties.gi_z || 0) / 10)})})
        .bindTooltip((l) => `${P.t("hotspots")}: ${P.esc(l.feature.properties.place || "")} · z = ${P.num(l.feature.properties.gi_z, 2)} · ${P.num(l.feature.properties.events)} ${P.t("events")} · ${P.num(l.feature.properties.kg)} kg`)
        .addTo(layers.hotspots);
    }));
    if (on("alerts") && purposeOk) tasks.push(P.api("/api/v1/analytics/alerts", {limit: 500}).then((res) => {
      if (staleFor("alerts")()) return;
      (res.tables.alerts ? res.tables.alerts.rows : []).filter((a) => a.lat != null && (!f.date_to || !a.end || (a.end >= (f.date_from || "") && a.start <= f.date_to))).forEach((a) =>
        L.marker([a.lat, a.lon], {title: P.t("alerts") + ": " + a.name, icon: L.divIcon({className: "", html: '<div style="width:18px;height:18px;border-radius:50%;background:#fbbf24;border:2px solid #b45309;color:#7c2d12;font:bold 12px/14px system-ui;text-align:center">!</div>'})})
          .bindPopup(`<b>${P.t("alerts")}</b>: ${P.esc(a.name)}, ${P.esc(a.admin1)}<br>${P.esc(a.start)} → ${P.esc(a.end)}<br>${P.num(a.count)} ${P.t("events")} (${P.t("expected")} ${P.num(a.expected, 1)})`)
          .addTo(layers.alerts));
    }));
    await Promise.allSettled(tasks);
    if (map && !P.staleSince(gen)) map.getContainer().dataset.drawn = String(mine);  // every layer drawn (tests, bench)
  };

  // "Records in view" follows pan and zoom: the server counts the matches inside the visible box (all of
  // them, not only the drawn ones) and the list shows the drawn records inside it.
  let viewSeq = 0;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  function boxOf(b) {  // Leaflet bounds as the API's west,south,east,north
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map((v) => v.toFixed(4)).join(",");
  }
  const inView = async () => {
    if (!map) return;
    const gen = P.gen, mine = ++viewSeq, b = map.getBounds();
    const bbox = boxOf(b);
    const list = document.getElementById("map-list");
    if (!list) return;
    let here = drawn.filter((x) => b.contains([x.geometry.coordinates[1], x.geometry.coordinates[0]]));
    let total = null;
    try {
      // drawn as cells: the newest records in the box come from the server
      const [sum, fc] = await Promise.all([P.api("/api/v1/map/summary", {...filters(), bbox, bin: "never"}),
        state.binned ? P.api("/api/v1/records/seizure", {...filters(), bbox, per_page: 200, format: "geojson"}) : null]);
      total = sum.totals.in_view;
      if (fc) here = fc.features.filter((x) => x.geometry);
    } catch (e) { /* shown as – */ }
    if (P.staleSince(gen) || mine !== viewSeq || !document.getElementById("in-view-count")) return;
    list.innerHTML = here.length ? "" : `<div class="empty">${P.t("no_records")}</div>`;
    here.slice(0, 200).forEach((x) => {
      const p = x.properties, d = document.createElement("a");
      d.className = "rec"; d.href = "#/entity/" + encodeURIComponent(p.id);
      d.innerHTML = `<span class="swatch" style="background:${P.drugColor(p.drug)}" aria-hidden="true"></span> <b>${P.esc(P.term("drugs", p.drug))}</b> ${P.esc(amount(p))}` +
        `<span class="meta">${P.esc(p.date)} · ${place(p)} · ${P.esc(p.owner_node)}</span>`;
      list.appendChild(d);
    });
    document.getElementById("in-view-count").textContent = P.num(total);
    document.getElementById("in-view-note").textContent = total !== null && here.length < total
      ? P.t(state.binned ? "in_view_newest" : "in_view_listed").replaceAll("{shown}", P.num(Math.min(200, here.length))).replaceAll("{total}", P.num(total)) : "";
  };

  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="mapwrap">
      <div class="filters">
        <h2 class="small muted">${P.t("filters")}</h2>
        <div id="filter-box"></div>
        <h2 class="small muted" style="margin-top:18px">${P.t("layers")}</h2>
        <div class="layers">
          <label><input type="checkbox" id="lyr-seizures" checked> ${P.t("seizures")}</label>
          <label><input type="checkbox" id="lyr-labs" checked> ${P.t("labs")}</label>
          <label><input type="checkbox" id="lyr-corridors" checked> ${P.t("corridors")}</label>
          <label><input type="checkbox" id="lyr-ports" checked> ${P.t("ports")}</label>
          <label><input type="checkbox" id="lyr-municipalities"> ${P.t("municipalities")}</label>
          <label><input type="checkbox" id="lyr-hotspots"> ${P.t("hotspots")} <span class="small muted">(${P.t("needs_purpose")})</span></label>
          <label><input type="checkbox" id="lyr-alerts"> ${P.t("alerts")} <span class="small muted">(${P.t("needs_purpose")})</span></label>
        </div>
        <div class="legend" style="margin-top:14px">${["fentanyl", "methamphetamine", "cocaine", "heroin", "marijuana", "other"].map((d) => `<div><span class="swatch" style="background:${P.drugColor(d)}" aria-hidden="true"></span> ${P.esc(P.term("drugs", d))}</div>`).join("")}
          <div class="small muted">${P.t("legend_size")}</div></div>
      </div>
      <div id="map" role="region" aria-label="${P.esc(P.t("nav_map"))}"><div id="map-busy" class="map-busy hidden" role="status" aria-live="polite"></div></div>
      <div class="side" tabindex="0" role="region" aria-label="${P.esc(P.t("in_view"))}"><div id="map-summary"></div>
        <h2 class="small muted">${P.t("in_view")}: <span id="in-view-count">…</span></h2><div class="small muted" id="in-view-note"></div><div id="map-list"></div></div>
      <div class="timebar"><span class="muted small" id="t-label">${P.t("time_window")}</span>
        <button id="t-play">▶ ${P.t("play")}</button>
        <input type="range" id="t-slider" min="0" max="0" value="0" aria-labelledby="t-label" aria-describedby="win-label">
        <label for="t-win" class="sr-only">${P.t("window_length")}</label>
        <select id="t-win"><option value="1">1 m</option><option value="3">3 m</option><option value="6">6 m</option><option value="12">12 m</option><option value="1200">∞</option></select>
        <span class="label" id="win-label" aria-live="polite"></span></div>
    </div>`;
    map = L.map("map", {zoomControl: true, attributionControl: true, preferCanvas: true}).setView([27.5, -104], 5);
    map.attributionControl.setPrefix("Leaflet · Natural Earth · U.S. Census · INEGI");
    const [shapes] = await Promise.all([loadShapes(), P.filterForm(document.getElementById("filter-box"), false)]);
    if (P.staleSince(gen)) return;
    L.geoJSON(shapes.world, {style: {color: "#b8c4d0", weight: .6, fillColor: "#eef2f5", fillOpacity: 1}, interactive: false}).addTo(map);
    L.geoJSON(shapes.us, {style: {color: "#94a3b8", weight: .8, fillColor: "#ffffff", fillOpacity: 1}}).bindTooltip((l) => l.feature.properties.name, {sticky: true}).addTo(map);
    L.geoJSON(shapes.mx, {style: {color: "#94a3b8", weight: .8, fillColor: "#fbfaf5", fillOpacity: 1}}).bindTooltip((l) => l.feature.properties.name || "", {sticky: true}).addTo(map);
    ["hotspots", "corridors", "municipalities", "seizures", "labs", "ports", "alerts"].forEach((n) => { layers[n] = L.layerGroup().addTo(map); });
    const monthly = await P.api("/api/v1/stats/monthly", {kind: "seizure"}).catch(() => []);
    if (P.staleSince(gen)) return;
    months = [...new Set(monthly.map((r) => r.key).filter(Boolean))].sort();
    const slider = document.getElementById("t-slider");
    slider.max = Math.max(0, months.length - 1);
    fromFilters();
    const syncTime = () => {
      slider.value = state.idx;
      document.getElementById("t-win").value = String([1, 3, 6, 12].includes(state.win) ? state.win : 1200);
      slider.setAttribute("aria-valuetext", months[state.idx] || "");
    };
    syncTime();
    slider.addEventListener("input", () => { state.idx = +slider.value; toFilters(); syncTime(); draw(); });
    document.getElementById("t-win").addEventListener("change", (e) => { state.win = +e.target.value; toFilters(); draw(); });
    document.getElementById("t-play").addEventListener("click", (e) => {
      if (state.playing) { clearInterval(state.playing); state.playing = null; e.target.textContent = "▶ " + P.t("play"); return; }
      e.target.textContent = "❚❚ " + P.t("pause");
      state.playing = setInterval(() => { state.idx = (state.idx + 1) % months.length; toFilters(); syncTime(); draw(); }, 1400);
    });
    document.querySelectorAll(".layers input").forEach((c) => {
      const name = c.id.slice(4);
      c.checked = !!state.on[name];
      c.addEventListener("change", () => { state.on[name] = c.checked; draw(name); });
    });
    map.on("moveend", () => inView());
    map.on("moveend", rebin);
    const labels = () => map.getContainer().classList.toggle("labels-on", map.getZoom() >= 7);
    map.on("zoomend", labels);
    labels();
    P.pages.map.update = () => { P.syncFilterForm(); fromFilters(); syncTime(); return draw(); };
    await draw();
  };
  P.basemap = loadShapes;  // the vendored shapes (the analysis pages draw on them too)
  P.mapView = () => map;  // the Leaflet map (tests pan and zoom it)
  P.pages.map = {full: true, render, update: null, leave: () => { if (state.playing) { clearInterval(state.playing); state.playing = null; } if (map) { map.remove(); map = null; } }};
})();

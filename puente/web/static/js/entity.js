// Entity page: the record, its network (linked records, two steps) and a timeline of linked events.
(function () {
  let cy = null;
  const colors = {person: "#0f766e", organization: "#6366f1", vehicle: "#0ea5e9", seizure: "#dc2626", firearm_trace: "#92400e", precursor_shipment: "#f59e0b", lab_site: "#ea580c"};
  const render = async (el, id) => {
    const gen = P.gen;
    el.innerHTML = `<div class="card"><div class="toolbar"><div style="flex:1"><label for="e-id">${P.t("entity_pick")}</label><input id="e-id" style="width:100%" value="${P.esc(id || "")}"></div>
      <button class="primary" id="e-open">${P.t("open")}</button></div></div><div id="e-body"></div>`;
    document.getElementById("e-open").addEventListener("click", () => { location.hash = P.link("entity/" + encodeURIComponent(document.getElementById("e-id").value.trim())); });
    document.getElementById("e-id").addEventListener("keydown", (e) => { if (e.key === "Enter") document.getElementById("e-open").click(); });
    if (!id) return;
    let data;
    try { data = await P.api("/api/v1/entities/" + encodeURIComponent(id)); } catch (e) {
      if (!P.staleSince(gen)) document.getElementById("e-body").innerHTML = `<div class="card empty">${P.esc(e.message)}</div>`;
      return;
    }
    if (P.staleSince(gen)) return;
    const rec = data.record, kind = data.kind, kinfo = P.model.kinds[kind];
    const node = data.nodes.find((n) => n.id === id);
    // a partner's record: the fields its agreement withholds are named as such, never left out silently
    const withheld = rec.owner_node !== P.me.node ? await P.withheldByAgreement() : [];
    if (P.staleSince(gen)) return;
    const reasons = (withheld.find((w) => w.partner === rec.owner_node && w.kind === kind) || {fields: {}}).fields;
    const rows = Object.entries(rec).filter(([k, v]) => (v !== null && v !== "" || reasons[k]) && !/_(h3|lat|lon|id)$/.test(k));
    Object.keys(reasons).filter((f) => !(f in rec)).forEach((f) => rows.push([f, null]));
    const value = (k, v) => {
      if ((v === null || v === "") && reasons[k]) return P.withheldCell(reasons[k]);
      if (kinfo.fields[k] && kinfo.fields[k].vocab) return P.esc(P.term(kinfo.fields[k].vocab, v));
      if (k === "quantity" && rec.unit) return P.esc(P.qty(v, rec.unit, 2));
      if (k === "quantity_kg") return P.esc(P.num(v, 2) + " kg");
      if (/_at$/.test(k)) return P.esc(P.time(v));
      return P.esc(typeof v === "number" ? P.num(v, 2) : v);
    };
    document.getElementById("e-body").innerHTML = `<div class="grid" style="grid-template-columns:minmax(300px,1fr) 2fr">
      <div class="card"><h2 id="e-title">${P.esc(node ? node.label : id)}</h2><div class="small muted">${P.esc(P.kindLabel(kind))} · ${P.esc(rec.owner_node)}</div>
        <dl class="kv" style="margin-top:10px">${rows.map(([k, v]) => `<dt>${P.esc(P.fieldLabel(kind, k))}</dt><dd>${value(k, v)}</dd>`).join("")}</dl></div>
      <div><div class="card"><h2>${P.t("network")} <span class="small muted">· ${data.nodes.length - 1} ${P.t("linked")}</span></h2><div id="net" role="img" aria-label="${P.esc(P.t("network") + ": " + data.nodes.filter((n) => n.id !== id).map((n) => n.label).join(", "))}"></div></div>
      <div class="card"><h2>${P.t("linked_list")}</h2><ul class="linked" id="e-linked">${data.nodes.filter((n) => n.id !== id).map((n) =>
        `<li><a href="${P.link("entity/" + encodeURIComponent(n.id))}">${P.esc(n.label)}</a> <span class="small muted">${P.esc(P.kindLabel(n.kind))}</span></li>`).join("") || `<li class="muted">${P.t("none_yet")}</li>`}</ul></div>
      <div class="card"><h2>${P.t("timeline")}</h2><ul class="timeline" id="e-timeline"></ul></div></div></div>`;
    document.getElementById("e-timeline").innerHTML = data.timeline.length ? data.timeline.map((e) =>
      `<li><b>${P.esc(e.date)}</b> · ${P.esc(P.kindLabel(e.kind))}<br><a href="${P.link("entity/" + encodeURIComponent(e.id))}">${P.esc(e.label)}</a></li>`).join("") : `<li class="muted">${P.t("none_yet")}</li>`;
    cy = cytoscape({container: document.getElementById("net"),
      elements: [...data.nodes.map((n) => ({data: {id: n.id, label: n.label, kind: n.kind, root: n.id === id ? 1 : 0}})),
                 ...data.edges.map((e) => ({data: {id: e.id, source: e.source, target: e.target, label: P.term("roles", e.role)}}))],
      style: [{selector: "node", style: {"background-color": (n) => colors[n.data("kind")] || "#64748b", label: "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22, color: "#1c2733"}},
              {selector: "node[root = 1]", style: {width: 34, height: 34, "border-width": 3, "border-color": "#0b1f33"}},
              {selector: "edge", style: {width: 1.6, "line-color": "#94a3b8", "target-arrow-shape": "triangle", "target-arrow-color": "#94a3b8", "curve-style": "bezier", label: "data(label)", "font-size": 9, color: "#64748b", "text-rotation": "autorotate"}}],
      layout: {name: "cose", animate: false, padding: 30}});
    cy.on("tap", "node", (ev) => { const nid = ev.target.id(); if (nid !== id) location.hash = "#/entity/" + encodeURIComponent(nid); });
  };
  P.pages.entity = {render, leave: () => { if (cy) { cy.destroy(); cy = null; } }};
})();

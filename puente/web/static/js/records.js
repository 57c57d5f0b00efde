// Records page: any record kind, filtered by the shared filters (URL), searchable and paginated, with CSV,
// Parquet and GeoJSON exports of the same filters. Quantities carry their unit; a partner's field that the
// agreement withholds says so instead of showing a blank.
(function () {
  const st = {kind: "seizure", page: 1, per_page: 50};
  P.withheldByAgreement = async () => {
    if (!P._withheld) P._withheld = await P.api("/api/v1/agreements/withheld", {}, {purpose: false}).catch(() => []);
    return P._withheld;
  };
  // the reason a partner record has no value in `field`, or null
  P.withheldReason = (rows, owner, kind, field) => {
    const w = rows.find((x) => x.partner === owner && x.kind === kind);
    return w && w.fields[field] ? w.fields[field] : null;
  };
  P.withheldCell = (reason) => `<span class="withheld" title="${P.esc(reason)}">${P.esc(P.t("withheld_agreement"))}</span>`;
  const render = async (el) => {
    const gen = P.gen;
    const kinds = Object.keys(P.model.kinds);
    el.innerHTML = `<div class="card" id="r-filters"></div><div class="card"><div class="toolbar">
      <div><label for="r-kind">${P.t("kind")}</label><select id="r-kind">${kinds.map((k) => `<option value="${k}">${P.esc(P.kindLabel(k))}</option>`).join("")}</select></div>
      <div><label for="r-pp">${P.t("per_page")}</label><select id="r-pp"><option>25</option><option selected>50</option><option>200</option></select></div>
      <span style="flex:1"></span>
      <span class="muted small">${P.t("export_filtered")}:</span>
      <button id="x-csv">CSV</button><button id="x-parquet">Parquet</button><button id="x-geojson">GeoJSON</button></div>
      <div id="r-meta" class="small muted" role="status"></div><div id="r-table" class="scroll" tabindex="0" role="region" aria-label="${P.esc(P.t("nav_records"))}"></div>
      <div class="toolbar" style="margin-top:10px"><button id="r-prev">← ${P.t("prev")}</button><span id="r-page"></span><button id="r-next">${P.t("next")} →</button></div></div>`;
    const $ = (id) => document.getElementById(id);
    const [, withheld] = await Promise.all([P.filterForm($("r-filters"), true), P.withheldByAgreement()]);
    if (P.staleSince(gen)) return;
    $("r-kind").value = st.kind; $("r-pp").value = String(st.per_page);
    const load = async () => {
      const kind = P.model.kinds[st.kind];
      $("x-geojson").disabled = !kind.geometry;
      const data = await P.api("/api/v1/records/" + st.kind, {...P.apiFilters(st.kind), page: st.page, per_page: st.per_page});
      if (P.staleSince(gen)) return;
      const present = (f) => data.items.length && Object.keys(data.items[0]).some((c) => c === f || c === f + "_name");
      // a quantity is shown with its unit; the unit is not a column of its own
      const hasUnit = !!kind.fields.unit && !!kind.fields.quantity;
      let shown = Object.keys(kind.fields).filter((f) => present(f) && !(hasUnit && f === "unit"));
      if (hasUnit && shown.includes("quantity_kg")) shown = [...shown.filter((f) => f !== "quantity_kg").slice(0, 8), "quantity_kg"];
      shown = shown.slice(0, 9);
      const cell = (r, f) => {
        const v = r[f] !== undefined ? r[f] : r[f + "_name"] || r[f + "_text"];
        if ((v === null || v === undefined || v === "") && r.owner_node !== P.me.node) {
          const why = P.withheldReason(withheld, r.owner_node, st.kind, f);
          if (why) return P.withheldCell(why);
        }
        if (hasUnit && f === "quantity" && v != null) return P.esc(P.qty(v, r.unit, 2));
        if (f === "quantity_kg" && v != null) return P.esc(P.num(v, 2) + " kg");
        if (kind.fields[f].vocab && v) return P.esc(P.term(kind.fields[f].vocab, v));
        return P.esc(typeof v === "number" ? P.num(v, 2) : v);
      };
      const cols = [{label: P.t("owner"), value: (r) => r.owner_node}, ...shown.map((f) => ({label: P.fieldLabel(st.kind, f),
        num: ["number", "integer"].includes(kind.fields[f].type), html: (r) => cell(r, f)}))];
      $("r-table").innerHTML = "";
      $("r-table").appendChild(data.items.length ? P.table(cols, data.items, (r) => { location.hash = P.link("entity/" + encodeURIComponent(r.id)); }) : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("no_records")}));
      $("r-meta").innerHTML = `${P.t("total")}: <b>${P.num(data.total)}</b> · ${P.t("scope")}: <span class="pill">${P.esc(P.code("scope", data.scope))}</span>` +
        (data.withheld.length ? ` · <span class="withheld">${P.t("withheld")}: ${data.withheld.map((f) => P.esc(P.fieldLabel(st.kind, f))).join(", ")}</span>` : "");
      const pages = Math.max(1, Math.ceil(data.total / st.per_page));
      $("r-page").textContent = `${P.t("page")} ${P.num(st.page)} / ${P.num(pages)}`;
      $("r-prev").disabled = st.page <= 1; $("r-next").disabled = st.page >= pages;
    };
    $("r-kind").addEventListener("change", () => { st.kind = $("r-kind").value; st.page = 1; load(); });
    $("r-pp").addEventListener("change", () => { st.per_page = +$("r-pp").value; st.page = 1; load(); });
    $("r-prev").addEventListener("click", () => { st.page--; load(); });
    $("r-next").addEventListener("click", () => { st.page++; load(); });
    // exports carry the same filters as the table (every match, not one page)
    ["csv", "parquet", "geojson"].forEach((fmt) => $("x-" + fmt).addEventListener("click", () =>
      P.download("/api/v1/records/" + st.kind, {...P.apiFilters(st.kind), format: fmt, per_page: 10000}, `${st.kind}.${fmt}`)));
    P.pages.records.update = () => { P.syncFilterForm(); st.page = 1; return load(); };
    await load();
  };
  P.pages.records = {render, update: null};
})();

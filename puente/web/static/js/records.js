// Records page: any record kind, searchable and paginated, with CSV, Parquet and GeoJSON exports.
(function () {
  const st = {kind: "seizure", q: "", page: 1, per_page: 50};
  const render = async (el) => {
    const gen = P.gen;
    const kinds = Object.keys(P.model.kinds);
    el.innerHTML = `<div class="card"><div class="toolbar">
      <div><label>${P.t("kind")}</label><select id="r-kind">${kinds.map((k) => `<option value="${k}">${P.esc(P.kindLabel(k))}</option>`).join("")}</select></div>
      <div><label>${P.t("search")}</label><input id="r-q" placeholder="${P.t("search_hint")}"></div>
      <div><label>${P.t("per_page")}</label><select id="r-pp"><option>25</option><option selected>50</option><option>200</option></select></div>
      <button class="primary" id="r-go">${P.t("apply")}</button>
      <span style="flex:1"></span>
      <span class="muted small">${P.t("export")}:</span>
      <button id="x-csv">CSV</button><button id="x-parquet">Parquet</button><button id="x-geojson">GeoJSON</button></div>
      <div id="r-meta" class="small muted"></div><div id="r-table" style="overflow:auto;max-height:calc(100vh - 260px)"></div>
      <div class="toolbar" style="margin-top:10px"><button id="r-prev">← ${P.t("prev")}</button><span id="r-page"></span><button id="r-next">${P.t("next")} →</button></div></div>`;
    const $ = (id) => document.getElementById(id);
    $("r-kind").value = st.kind; $("r-q").value = st.q; $("r-pp").value = String(st.per_page);
    const load = async () => {
      const kind = P.model.kinds[st.kind];
      $("x-geojson").disabled = !kind.geometry;
      const data = await P.api("/api/v1/records/" + st.kind, {q: st.q, page: st.page, per_page: st.per_page});
      if (P.staleSince(gen)) return;
      const shown = Object.keys(kind.fields).filter((f) => data.items.length && Object.keys(data.items[0]).some((c) => c === f || c === f + "_name")).slice(0, 9);
      const cols = [{label: P.t("owner"), value: (r) => r.owner_node}, ...shown.map((f) => ({label: P.fieldLabel(st.kind, f),
        num: ["number", "integer"].includes(kind.fields[f].type),
        value: (r) => { const v = r[f] !== undefined ? r[f] : r[f + "_name"] || r[f + "_text"]; return kind.fields[f].vocab && v ? P.term(kind.fields[f].vocab, v) : (typeof v === "number" ? P.num(v, 2) : v); }}))];
      $("r-table").innerHTML = "";
      $("r-table").appendChild(data.items.length ? P.table(cols, data.items, (r) => { location.hash = "#/entity/" + encodeURIComponent(r.id); }) : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("no_records")}));
      $("r-meta").innerHTML = `${P.t("total")}: <b>${P.num(data.total)}</b> · scope: <span class="pill">${P.esc(data.scope)}</span>` +
        (data.withheld.length ? ` · <span class="withheld">${P.t("withheld")}: ${data.withheld.map((f) => P.esc(P.fieldLabel(st.kind, f))).join(", ")}</span>` : "");
      const pages = Math.max(1, Math.ceil(data.total / st.per_page));
      $("r-page").textContent = `${P.t("page")} ${st.page} / ${pages}`;
      $("r-prev").disabled = st.page <= 1; $("r-next").disabled = st.page >= pages;
    };
    $("r-go").addEventListener("click", () => { st.kind = $("r-kind").value; st.q = $("r-q").value.trim(); st.per_page = +$("r-pp").value; st.page = 1; load(); });
    $("r-kind").addEventListener("change", () => $("r-go").click());
    $("r-q").addEventListener("keydown", (e) => { if (e.key === "Enter") $("r-go").click(); });
    $("r-prev").addEventListener("click", () => { st.page--; load(); });
    $("r-next").addEventListener("click", () => { st.page++; load(); });
    ["csv", "parquet", "geojson"].forEach((fmt) => $("x-" + fmt).addEventListener("click", () =>
      P.download("/api/v1/records/" + st.kind, {q: st.q, format: fmt, per_page: 10000}, `${st.kind}.${fmt}`)));
    await load();
  };
  P.pages.records = {render};
})();

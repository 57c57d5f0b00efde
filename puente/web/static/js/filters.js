// One filter and time-range state for every page, kept in the URL (#/page/arg?drug=…&admin1=MX-16&from=2024-01…)
// so that a view can be shared or bookmarked; records lists, charts, map layers and exports all read it.
(function () {
  const KEYS = ["drug", "country", "admin1", "from", "to", "owner", "q"];
  P.hashParts = () => {
    const raw = location.hash.replace(/^#\/?/, "");
    const cut = raw.indexOf("?");
    const path = cut < 0 ? raw : raw.slice(0, cut), query = cut < 0 ? "" : raw.slice(cut + 1);
    const params = new URLSearchParams(query), filters = {};
    KEYS.forEach((k) => { const v = params.get(k); if (v) filters[k] = v; });
    return {path, filters};
  };
  P.filters = () => P.hashParts().filters;
  P.hashFor = (path, filters) => {
    const q = new URLSearchParams();
    KEYS.forEach((k) => { if (filters[k]) q.set(k, filters[k]); });
    const qs = q.toString();
    return "#/" + path + (qs ? "?" + qs : "");
  };
  // Change the filters: replace=true rewrites the URL without re-rendering (the page already shows it).
  P.setFilters = (next, replace = false) => {
    const {path} = P.hashParts();
    const hash = P.hashFor(path || "map", next);
    if (hash === location.hash) return;
    if (replace) history.replaceState(null, "", hash); else location.hash = hash;
  };
  // A link to another page that keeps the filters.
  P.link = (path) => P.hashFor(path, P.filters());
  const monthEnd = (m) => { const [y, mo] = m.split("-").map(Number); return new Date(Date.UTC(y, mo, 0)).toISOString().slice(0, 10); };
  P.dateFrom = (v) => !v ? null : v.length === 7 ? v + "-01" : v;
  P.dateTo = (v) => !v ? null : v.length === 7 ? monthEnd(v) : v;
  // The filters as API parameters, only those the record kind has (a seizure has a drug, a person does not).
  P.apiFilters = (kindName, f = P.filters()) => {
    const kind = P.model.kinds[kindName], out = {};
    if (!kind) return out;
    if (f.drug && kind.fields.drug) out.drug = f.drug;
    if (kind.geometry) { if (f.country) out.country = f.country; if (f.admin1) out.admin1 = f.admin1; }
    if (kind.date_field) { out.date_from = P.dateFrom(f.from); out.date_to = P.dateTo(f.to); }
    if (f.owner) out.owner = f.owner;
    if (f.q) out.q = f.q;
    return out;
  };
  P.states = async () => {
    if (!P._states) P._states = await P.api("/api/v1/map/states", {}, {purpose: false});
    return P._states;
  };
  P.stateName = (id) => { const s = (P._states || []).find((x) => x.id === id); return s ? s.name : id; };
  // The shared filter form; `compact` lays it out as a toolbar (records, trends) instead of a column (map).
  P.filterForm = async (box, compact) => {
    const f = P.filters(), drugs = Object.keys(P.model.vocabularies.drugs);
    const states = await P.states().catch(() => []);
    if (!box.isConnected) return;  // the page was left meanwhile
    const group = (c) => `<optgroup label="${c}">${states.filter((s) => s.country === c).map((s) =>
      `<option value="${P.esc(s.id)}">${P.esc(s.name)}</option>`).join("")}</optgroup>`;
    const field = (id, label, control) => `<div class="ff"><label for="${id}">${P.esc(label)}</label>${control}</div>`;
    box.innerHTML = `<form class="filterform ${compact ? "toolbar" : ""}" id="filterform" role="search" aria-label="${P.esc(P.t("filters"))}">
      ${field("f-drug", P.t("drug"), `<select id="f-drug"><option value="">${P.t("all")}</option>${drugs.map((d) => `<option value="${d}">${P.esc(P.term("drugs", d))}</option>`).join("")}</select>`)}
      ${field("f-country", P.t("country"), `<select id="f-country"><option value="">${P.t("all")}</option><option value="US">US</option><option value="MX">MX</option></select>`)}
      ${field("f-admin1", P.t("state"), `<select id="f-admin1"><option value="">${P.t("all")}</option>${group("MX")}${group("US")}</select>`)}
      ${field("f-from", P.t("from"), `<input id="f-from" type="month">`)}
      ${field("f-to", P.t("to"), `<input id="f-to" type="month">`)}
      ${field("f-owner", P.t("owner"), `<select id="f-owner"><option value="">${P.t("all")}</option><option value="own">${P.t("own")}</option><option value="partner">${P.t("partner")}</option></select>`)}
      ${field("f-q", P.t("search"), `<input id="f-q" type="search" placeholder="${P.esc(P.t("search_hint"))}">`)}
      <div class="ff buttons"><button type="submit" class="primary" id="f-apply">${P.t("apply")}</button><button type="button" id="f-reset">${P.t("reset")}</button></div></form>`;
    const $ = (id) => document.getElementById(id);
    KEYS.forEach((k) => { $("f-" + k).value = f[k] || ""; });
    $("filterform").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = {};
      KEYS.forEach((k) => { const v = $("f-" + k).value.trim(); if (v) next[k] = v; });
      P.setFilters(next);
    });
    $("f-reset").addEventListener("click", () => P.setFilters({}));
  };
  // Put the current filters into an already-rendered form (after the map's slider moved the time range).
  P.syncFilterForm = () => {
    const f = P.filters();
    KEYS.forEach((k) => { const el = document.getElementById("f-" + k); if (el) el.value = f[k] || ""; });
  };
})();

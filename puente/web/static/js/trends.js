// Trends page: monthly seizures by owner and by drug, seizures by state, and CBP's public monthly statistics,
// all for the shared filters (URL). Every chart states its unit; only drugs present in the data are drawn;
// each chart has a text alternative (its figures as a table for screen readers).
(function () {
  let charts = [];
  const palette = ["#0f766e", "#f59e0b", "#6366f1", "#dc2626", "#16a34a", "#0ea5e9"];
  const chart = (id, cfg, alt) => {
    const canvas = document.getElementById(id);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", alt);
    const c = new Chart(canvas, cfg); charts.push(c); return c;
  };
  // "fentanyl: 12 events in 3 months; …" — what a chart shows, in words
  const describe = (title, unit, series) => title + " (" + unit + "). " + series.map((s) =>
    `${s.label}: ${P.num(s.data.reduce((a, v) => a + (v || 0), 0), 1)} ${unit}`).join("; ");
  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="card" id="t-filters"></div><div class="grid g2">
      <div class="card"><h2>${P.t("monthly_kg")}</h2><div class="chart-box"><canvas id="c-owner"></canvas></div></div>
      <div class="card"><h2>${P.t("monthly_n")}</h2><div class="chart-box"><canvas id="c-drug"></canvas></div><div class="small muted" id="c-drug-note"></div></div>
      <div class="card"><h2>${P.t("by_state")}</h2><div class="chart-box"><canvas id="c-state"></canvas></div></div>
      <div class="card"><h2>${P.t("cbp_fy")}</h2><div class="chart-box"><canvas id="c-cbp"></canvas></div></div></div>`;
    await P.filterForm(document.getElementById("t-filters"), true);
    const f = P.apiFilters("seizure");
    if (f.q) document.getElementById("t-filters").insertAdjacentHTML("beforeend", `<div class="small note" role="status">${P.esc(P.t("charts_no_q"))}</div>`);
    const base = {kind: "seizure", date_from: f.date_from, date_to: f.date_to, country: f.country, admin1: f.admin1};
    const ownerOk = (o) => !f.owner || (f.owner === "own" ? o === P.me.node : f.owner === "partner" ? o !== P.me.node : o === f.owner);
    const monthly = (await P.api("/api/v1/stats/monthly", {...base, drug: f.drug})).filter((r) => ownerOk(r.owner));
    if (P.staleSince(gen)) return;
    const months = [...new Set(monthly.map((r) => r.key))].filter(Boolean).sort();
    const owners = [...new Set(monthly.map((r) => r.owner))].sort();
    const ownerSets = owners.map((o, i) => ({label: o + (o === P.me.node ? " (" + P.t("own") + ")" : " (" + P.t("partner") + ")"),
      backgroundColor: palette[i % palette.length], data: months.map((m) => (monthly.find((r) => r.key === m && r.owner === o) || {}).kg || 0)}));
    chart("c-owner", {type: "bar", data: {labels: months, datasets: ownerSets},
      options: {maintainAspectRatio: false, scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: "kg"}}}}},
      describe(P.t("monthly_kg"), "kg", ownerSets));
    // one line per drug that is in the data for these filters, never a flat zero line for an absent drug
    const drugs = f.drug ? [f.drug] : Object.keys(P.model.vocabularies.drugs);
    const byDrug = await Promise.all(drugs.map((d) => P.api("/api/v1/stats/monthly", {...base, drug: d})));
    if (P.staleSince(gen)) return;
    const present = drugs.map((d, i) => ({d, rows: byDrug[i].filter((r) => ownerOk(r.owner))})).filter((x) => x.rows.some((r) => r.records > 0));
    const drugSets = present.map(({d, rows}) => ({label: P.term("drugs", d), borderColor: P.drugColor(d), backgroundColor: P.drugColor(d), cubicInterpolationMode: "monotone",
      data: months.map((m) => rows.filter((r) => r.key === m).reduce((s, r) => s + r.records, 0))}));
    chart("c-drug", {type: "line", data: {labels: months, datasets: drugSets},
      options: {maintainAspectRatio: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}, title: {display: true, text: P.t("events")}}}}},
      describe(P.t("monthly_n"), P.t("events"), drugSets));
    const absent = drugs.filter((d) => !present.some((x) => x.d === d));
    document.getElementById("c-drug-note").textContent = absent.length && !f.drug ? P.t("drugs_absent") + ": " + absent.map((d) => P.term("drugs", d)).join(", ") : "";
    const states = await P.api("/api/v1/stats/by-place", {kind: "seizure", level: "admin1", date_from: f.date_from, date_to: f.date_to, country: f.country, drug: f.drug});
    if (P.staleSince(gen)) return;
    const totals = {};
    states.filter((r) => ownerOk(r.owner)).forEach((r) => { if (r.key) totals[r.key] = (totals[r.key] || 0) + (r.kg || 0); });
    const top = Object.entries(totals).sort((a, b) => b[1] - a[1]).slice(0, 15);
    const stateSet = [{label: "kg", data: top.map((x) => x[1]), backgroundColor: "#0f766e"}];
    chart("c-state", {type: "bar", data: {labels: top.map((x) => x[0]), datasets: stateSet},
      options: {indexAxis: "y", maintainAspectRatio: false, plugins: {legend: {display: false}}, scales: {x: {title: {display: true, text: "kg"}}}}},
      P.t("by_state") + ": " + top.map((x) => `${x[0]} ${P.num(x[1], 1)} kg`).join("; "));
    // CBP publishes pounds; the store keeps kilograms (quantity_kg), shown here in kg like every other chart
    const cbpDrugs = (f.drug ? [f.drug] : ["fentanyl", "methamphetamine", "cocaine", "heroin", "marijuana"]);
    const cbp = await Promise.all(cbpDrugs.map((d) => P.api("/api/v1/stats/monthly", {kind: "seizure_aggregate", drug: d, date_from: f.date_from, date_to: f.date_to})));
    if (P.staleSince(gen)) return;
    const cm = [...new Set(cbp.flat().map((r) => r.key))].filter(Boolean).sort();
    const cbpSets = cbpDrugs.map((d, i) => ({d, rows: cbp[i]})).filter((x) => x.rows.some((r) => (r.kg || 0) > 0)).map(({d, rows}) => ({label: P.term("drugs", d), borderColor: P.drugColor(d), pointRadius: 0, tension: .2,
      data: cm.map((m) => rows.filter((r) => r.key === m).reduce((s, r) => s + (r.kg || 0), 0))}));
    if (!cbpSets.length) {  // no public statistics loaded on this node: say so rather than draw empty axes
      document.getElementById("c-cbp").parentElement.innerHTML = `<div class="empty">${P.t("no_records")}</div>`;
      return;
    }
    chart("c-cbp", {type: "line", data: {labels: cm, datasets: cbpSets},
      options: {maintainAspectRatio: false, scales: {y: {title: {display: true, text: "kg"}}}}}, describe(P.t("cbp_fy"), "kg", cbpSets));
  };
  P.pages.trends = {render, leave: () => { charts.forEach((c) => c.destroy()); charts = []; }};
})();

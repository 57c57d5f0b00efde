// Trends page: monthly seizures by owner and by drug, seizures by state, and CBP's public monthly statistics.
(function () {
  let charts = [];
  const chart = (id, cfg) => { const c = new Chart(document.getElementById(id), cfg); charts.push(c); return c; };
  const palette = ["#0f766e", "#f59e0b", "#6366f1", "#dc2626", "#16a34a", "#0ea5e9"];
  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="grid g2">
      <div class="card"><h2>${P.t("monthly_kg")}</h2><div class="chart-box"><canvas id="c-owner"></canvas></div></div>
      <div class="card"><h2>${P.t("monthly_n")}</h2><div class="chart-box"><canvas id="c-drug"></canvas></div></div>
      <div class="card"><h2>${P.t("by_state")}</h2><div class="chart-box"><canvas id="c-state"></canvas></div></div>
      <div class="card"><h2>${P.t("cbp_fy")}</h2><div class="chart-box"><canvas id="c-cbp"></canvas></div></div></div>`;
    const monthly = await P.api("/api/v1/stats/monthly", {kind: "seizure"});
    if (P.staleSince(gen)) return;
    const months = [...new Set(monthly.map((r) => r.key))].filter(Boolean).sort();
    const owners = [...new Set(monthly.map((r) => r.owner))].sort();
    chart("c-owner", {type: "bar", data: {labels: months, datasets: owners.map((o, i) => ({label: o + (o === P.me.node ? " (" + P.t("own") + ")" : " (" + P.t("partner") + ")"),
      backgroundColor: palette[i % palette.length], data: months.map((m) => (monthly.find((r) => r.key === m && r.owner === o) || {}).kg || 0)}))},
      options: {maintainAspectRatio: false, scales: {x: {stacked: true}, y: {stacked: true, title: {display: true, text: "kg"}}}}});
    const drugs = ["fentanyl", "methamphetamine", "cocaine", "heroin"];
    const byDrug = await Promise.all(drugs.map((d) => P.api("/api/v1/stats/monthly", {kind: "seizure", drug: d})));
    if (P.staleSince(gen)) return;
    chart("c-drug", {type: "line", data: {labels: months, datasets: drugs.map((d, i) => ({label: P.term("drugs", d), borderColor: P.drugColor(d), backgroundColor: P.drugColor(d), cubicInterpolationMode: "monotone",
      data: months.map((m) => byDrug[i].filter((r) => r.key === m).reduce((s, r) => s + r.records, 0))}))},
      options: {maintainAspectRatio: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});
    const states = await P.api("/api/v1/stats/by-place", {kind: "seizure", level: "admin1"});
    if (P.staleSince(gen)) return;
    const totals = {};
    states.forEach((r) => { if (r.key) totals[r.key] = (totals[r.key] || 0) + (r.kg || 0); });
    const top = Object.entries(totals).sort((a, b) => b[1] - a[1]).slice(0, 15);
    chart("c-state", {type: "bar", data: {labels: top.map((x) => x[0]), datasets: [{label: "kg", data: top.map((x) => x[1]), backgroundColor: "#0f766e"}]},
      options: {indexAxis: "y", maintainAspectRatio: false, plugins: {legend: {display: false}}}});
    const cbp = await Promise.all(["fentanyl", "methamphetamine", "cocaine"].map((d) => P.api("/api/v1/stats/monthly", {kind: "seizure_aggregate", drug: d})));
    if (P.staleSince(gen)) return;
    const cm = [...new Set(cbp.flat().map((r) => r.key))].filter(Boolean).sort();
    chart("c-cbp", {type: "line", data: {labels: cm, datasets: ["fentanyl", "methamphetamine", "cocaine"].map((d, i) => ({label: P.term("drugs", d), borderColor: P.drugColor(d), pointRadius: 0, tension: .2,
      data: cm.map((m) => cbp[i].filter((r) => r.key === m).reduce((s, r) => s + (r.kg || 0) / 0.45359237, 0))}))},
      options: {maintainAspectRatio: false, scales: {y: {title: {display: true, text: "lb"}}}}});
  };
  P.pages.trends = {render, leave: () => { charts.forEach((c) => c.destroy()); charts = []; }};
})();

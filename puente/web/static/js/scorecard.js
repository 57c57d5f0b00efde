// Joint scorecard: what each side shared, follow-ups, trace completion, coverage by state and port.
(function () {
  let charts = [];
  const render = async (el) => {
    const gen = P.gen;
    const s = await P.api("/api/v1/scorecard", {}, {purpose: false});
    if (P.staleSince(gen)) return;
    const recv = s.received.reduce((a, r) => a + r.records, 0);
    const sent = s.sent ? s.sent.reduce((a, r) => a + r.records, 0) : null;
    const tc = s.trace_completion.reduce((a, r) => ({c: a.c + r.completed, t: a.t + r.total}), {c: 0, t: 0});
    el.innerHTML = `<div class="grid g4">
      <div class="card"><div class="small muted">${P.t("received_partner")}</div><div class="kpi">${P.num(recv)}</div></div>
      <div class="card"><div class="small muted">${P.t("sent_partner")}</div><div class="kpi">${sent === null ? "–" : P.num(sent)}</div>${sent === null ? `<div class="small muted">${P.t("not_installed")}</div>` : ""}</div>
      <div class="card"><div class="small muted">${P.t("followups")}</div><div class="kpi" id="k-follow">${s.followups ? P.num(s.followups.answered) + " <small>/ " + P.num(s.followups.total) + "</small>" : "–"}</div>${s.followups ? `<div class="small muted">median ${P.num(s.followups.median_hours, 1)} h</div>` : `<div class="small muted">${P.t("not_installed")}</div>`}</div>
      <div class="card"><div class="small muted">${P.t("trace_completion")}</div><div class="kpi">${tc.t ? P.num(100 * tc.c / tc.t) + "%" : "–"} <small>${P.num(tc.c)} / ${P.num(tc.t)}</small></div></div></div>
      <div class="grid g2"><div class="card"><h2>${P.t("shared_each_way")}</h2><div class="chart-box"><canvas id="s-shared"></canvas></div></div>
      <div class="card"><h2>${P.t("trace_completion")}</h2><div id="s-traces"></div></div></div>
      <div class="grid g2"><div class="card"><h2>${P.t("coverage_state")}</h2><div id="s-states" style="max-height:380px;overflow:auto"></div></div>
      <div class="card"><h2>${P.t("coverage_port")}</h2><div id="s-ports" style="max-height:380px;overflow:auto"></div></div></div>`;
    const rows = [...s.received.map((r) => ({...r, dir: P.t("received_partner")})), ...(s.sent || []).map((r) => ({...r, dir: P.t("sent_partner")}))];
    const kinds = [...new Set(rows.map((r) => r.kind))].sort();
    const series = [...new Set(rows.map((r) => r.dir + " · " + r.month))].sort();
    const pal = ["#0f766e", "#f59e0b", "#14b8a6", "#fbbf24", "#0ea5e9", "#6366f1", "#92400e", "#16a34a"];
    charts.push(new Chart(document.getElementById("s-shared"), {type: "bar", data: {labels: kinds.map((k) => P.kindLabel(k)), datasets: series.map((name, i) => ({label: name, backgroundColor: pal[i % pal.length],
      data: kinds.map((k) => rows.filter((r) => r.kind === k && r.dir + " · " + r.month === name).reduce((a, r) => a + r.records, 0))}))},
      options: {maintainAspectRatio: false, scales: {y: {ticks: {precision: 0}}}}}));
    document.getElementById("s-traces").appendChild(P.table([{label: P.t("owner"), value: (r) => r.owner}, {label: P.t("completed"), num: true, value: (r) => r.completed},
      {label: P.t("total"), num: true, value: (r) => r.total}, {label: "%", html: (r) => `<div class="bar"><span style="width:${Math.round(100 * (r.rate || 0))}%"></span></div>`}], s.trace_completion));
    document.getElementById("s-states").appendChild(P.table([{label: P.t("country"), value: (r) => r.country}, {label: P.t("state"), value: (r) => r.admin1},
      {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records"), num: true, value: (r) => r.records}], s.coverage_by_state));
    document.getElementById("s-ports").appendChild(P.table([{label: P.t("port"), value: (r) => r.port}, {label: P.t("owner"), value: (r) => r.owner},
      {label: P.t("records"), num: true, value: (r) => r.records}, {label: "kg", num: true, value: (r) => P.num(r.kg, 1)}], s.coverage_by_port));
  };
  P.pages.scorecard = {render, leave: () => { charts.forEach((c) => c.destroy()); charts = []; }};
})();

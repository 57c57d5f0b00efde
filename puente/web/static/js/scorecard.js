// Joint scorecard: what each side shared, follow-ups, trace completion, coverage by state and port.
(function () {
  let charts = [];
  const render = async (el) => {
    const gen = P.gen;
    const s = await P.api("/api/v1/scorecard");
    if (P.staleSince(gen)) return;
    const recv = s.received.reduce((a, r) => a + r.records, 0);
    const sent = s.sent ? s.sent.reduce((a, r) => a + r.records, 0) : null;
    const tc = s.trace_completion.reduce((a, r) => ({c: a.c + r.completed, t: a.t + r.total}), {c: 0, t: 0});
    el.innerHTML = `<div class="grid g4">
      <div class="card"><div class="small muted">${P.t("received_partner")}</div><div class="kpi">${P.num(recv)} <small>${P.t("records_unit")}</small></div></div>
      <div class="card"><div class="small muted">${P.t("sent_partner")}</div><div class="kpi">${sent === null ? "–" : P.num(sent) + ` <small>${P.t("records_unit")}</small>`}</div>${sent === null ? `<div class="small muted">${P.t("not_installed")}</div>` : ""}</div>
      <div class="card"><div class="small muted">${P.t("followups")}</div><div class="kpi" id="k-follow">${s.followups ? P.num(s.followups.answered) + " <small>/ " + P.num(s.followups.total) + "</small>" : "–"}</div>${s.followups ? `<div class="small muted">${P.esc(P.t("followup_median").replace("{h}", P.num(s.followups.median_hours, 1)))}</div>` : `<div class="small muted">${P.t("not_installed")}</div>`}</div>
      <div class="card"><div class="small muted">${P.t("trace_completion")}</div><div class="kpi">${tc.t ? P.num(100 * tc.c / tc.t) + " %" : "–"} <small>${P.num(tc.c)} / ${P.num(tc.t)} ${P.t("records_unit")}</small></div></div></div>
      <div class="grid g2"><div class="card"><h2>${P.t("shared_each_way_data")}</h2><div class="chart-box"><canvas id="s-shared"></canvas></div></div>
      <div class="card"><h2>${P.t("trace_completion")}</h2><div id="s-traces"></div></div></div>
      <div class="grid g2"><div class="card"><h2>${P.t("coverage_state")}</h2><div id="s-states" style="max-height:380px;overflow:auto" tabindex="0" role="region" aria-label="${P.esc(P.t("coverage_state"))}"></div></div>
      <div class="card"><h2>${P.t("coverage_port")}</h2><div id="s-ports" style="max-height:380px;overflow:auto" tabindex="0" role="region" aria-label="${P.esc(P.t("coverage_port"))}"></div></div></div>
      <div class="card"><h2>${P.t("joint_digest")}</h2><div class="small muted">${P.esc(P.t("joint_digest_help"))}</div><div id="s-joint"></div></div>`;
    // by the month of each record's own date (the exchange month is one month when a history arrives at once)
    const rows = (s.shared_by_data_month || []).map((r) => ({...r, dir: P.t(r.direction === "sent" ? "sent_partner" : "received_partner")}));
    const months = [...new Set(rows.map((r) => r.month).filter(Boolean))].sort();
    const series = [...new Set(rows.map((r) => r.dir + " · " + P.kindLabel(r.kind)))].sort();
    const pal = ["#0f766e", "#f59e0b", "#14b8a6", "#fbbf24", "#0ea5e9", "#6366f1", "#92400e", "#16a34a"];
    const sets = series.map((name, i) => ({label: name, backgroundColor: pal[i % pal.length], stack: name.split(" · ")[0],
      data: months.map((m) => rows.filter((r) => r.month === m && r.dir + " · " + P.kindLabel(r.kind) === name).reduce((a, r) => a + r.records, 0))}));
    const canvas = document.getElementById("s-shared");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", P.t("shared_each_way_data") + ": " + sets.map((d) => d.label + " " + P.num(d.data.reduce((a, v) => a + v, 0)) + " " + P.t("records_unit")).join("; "));
    charts.push(new Chart(canvas, {type: "bar", data: {labels: months, datasets: sets},
      options: {maintainAspectRatio: false, scales: {x: {stacked: true}, y: {stacked: true, ticks: {precision: 0}, title: {display: true, text: P.t("records_unit")}}}}}));
    document.getElementById("s-traces").appendChild(P.table([{label: P.t("owner"), value: (r) => r.owner}, {label: P.t("completed"), num: true, value: (r) => P.num(r.completed)},
      {label: P.t("total"), num: true, value: (r) => P.num(r.total)}, {label: "%", html: (r) => `<div class="bar" role="img" aria-label="${P.num(100 * (r.rate || 0))} %"><span style="width:${Math.round(100 * (r.rate || 0))}%"></span></div>`}], s.trace_completion));
    document.getElementById("s-states").appendChild(P.table([{label: P.t("country"), value: (r) => r.country}, {label: P.t("state"), value: (r) => r.admin1},
      {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)}], s.coverage_by_state));
    document.getElementById("s-ports").appendChild(P.table([{label: P.t("port"), value: (r) => r.port}, {label: P.t("owner"), value: (r) => r.owner},
      {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)}, {label: "kg", num: true, value: (r) => P.num(r.kg, 1) + " kg"}], s.coverage_by_port));
    const joint = s.joint_digest || [];
    const box = document.getElementById("s-joint");
    if (!joint.length) box.innerHTML = `<div class="small muted">${P.esc(P.t("joint_none"))}</div>`;
    else box.appendChild(P.table([{label: P.t("joint_partner"), value: (r) => r.partner},
      {label: P.t("joint_inputs"), html: (r) => `<code>${P.esc(r.inputs_sha256.slice(0, 16))}…</code> <small>${P.num(Object.values(r.inputs || {}).reduce((a, v) => a + v.records, 0))}</small>`},
      {label: P.t("joint_results"), html: (r) => `<code>${P.esc(r.results_sha256.slice(0, 16))}…</code> <small>${P.num(Object.keys(r.results || {}).length)}</small>`},
      {label: P.t("joint_computed"), value: (r) => r.computed_at}], joint));
  };
  P.pages.scorecard = {render, leave: () => { charts.forEach((c) => c.destroy()); charts = []; }};
})();

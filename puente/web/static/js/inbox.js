// Hit/no-hit inbox: send a query to the partner, see hits on our records, ask for follow-ups, decide requests.
(function () {
  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="card"><h2>${P.t("nav_inbox")}</h2><p class="muted">${P.t("inbox_intro")}</p>
      <div class="toolbar"><div><label for="h-partner">${P.t("partner_col")}</label><select id="h-partner"></select></div>
      <div><label for="h-kind">${P.t("kind")}</label><select id="h-kind"><option value="person">${P.esc(P.kindLabel("person"))}</option>
        <option value="vehicle">${P.esc(P.kindLabel("vehicle"))}</option><option value="firearm_trace">${P.esc(P.kindLabel("firearm_trace"))}</option></select></div>
      <button class="primary" id="h-send" disabled>${P.t("send_query")}</button><span id="h-status" class="muted" role="status"></span></div></div>
      <div class="grid g2"><div class="card"><h2>${P.t("hits_on_ours")}</h2><div id="h-results" style="max-height:420px;overflow:auto" tabindex="0" role="region" aria-label="${P.esc(P.t("hits_on_ours"))}"></div></div>
      <div class="card"><h2>${P.t("queries")}</h2><div id="h-queries"></div></div></div>
      <div class="card"><h2>${P.t("followup_requests")}</h2><div id="h-requests"></div></div>`;
    let box;
    try { box = await P.api("/api/v1/hits/inbox", {}, {purpose: false}); } catch (e) { return; }
    if (P.staleSince(gen)) return;
    const sel = document.getElementById("h-partner");
    sel.innerHTML = box.partners.length ? box.partners.map((p) => `<option>${P.esc(p)}</option>`).join("") : `<option value="">–</option>`;
    document.getElementById("h-send").disabled = !box.partners.length;
    document.getElementById("h-send").addEventListener("click", async () => {
      const st = document.getElementById("h-status"), btn = document.getElementById("h-send");
      // a query takes seconds (encoding every record, the partner's answer): a spinner, and no second send meanwhile
      st.innerHTML = `<span class="spinner" aria-hidden="true"></span> ${P.esc(P.t("sending"))}`;
      btn.disabled = true;
      try {
        const r = await P.api("/api/v1/hits/queries", {}, {method: "POST", purpose: false, body: {partner: sel.value, kind: document.getElementById("h-kind").value}});
        st.textContent = `${r.query_id}: ${P.num(r.sent)} ${P.t("encodings_sent")}, ${P.num(r.hits.length)} ${P.t("hits")}`;
        setTimeout(() => P.route(), 600);
      } catch (e) { st.textContent = ""; } finally { btn.disabled = false; }
    });
    const ask = async (r) => {
      const reason = prompt(P.t("followup_reason"));
      if (!reason) return;
      await P.api("/api/v1/hits/followups", {}, {method: "POST", purpose: false, body: {partner: r.partner, ref: r.ref, reason}});
      P.route();
    };
    const results = document.getElementById("h-results");
    const shown = box.results.slice(0, 200);
    if (box.results.length > shown.length) results.insertAdjacentHTML("beforeend", `<div class="small note" role="status">${P.esc(P.t("list_sampled").replaceAll("{shown}", P.num(shown.length)).replaceAll("{total}", P.num(box.results.length)))}</div>`);
    results.appendChild(shown.length ? P.table([{label: P.t("record"), html: (r) => `<a href="${P.link("entity/" + encodeURIComponent(r.local_id))}">${P.esc(r.local_id)}</a>`},
      {label: P.t("partner_col"), value: (r) => r.partner}, {label: "ref", value: (r) => r.ref},
      {label: "", html: (r) => `<button class="link ask" data-ref="${P.esc(r.ref)}">${P.t("ask_followup")}</button>`}], shown)
      : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")}));
    results.querySelectorAll("button.ask").forEach((b) => b.addEventListener("click", () => ask(box.results.find((r) => r.ref === b.dataset.ref))));
    document.getElementById("h-queries").appendChild(box.queries.length ? P.table([{label: P.t("when"), value: (q) => P.time(q.created_at)},
      {label: P.t("direction"), value: (q) => P.t(q.direction)}, {label: P.t("partner_col"), value: (q) => q.partner}, {label: P.t("kind"), value: (q) => P.kindLabel(q.kind)},
      {label: P.t("encodings"), num: true, value: (q) => P.num(q.encodings)}, {label: P.t("hits"), num: true, value: (q) => P.num(q.hits)},
      {label: P.t("status"), html: (q) => `<span class="pill ${q.status === "answered" ? "ok" : q.status === "rejected" ? "bad" : ""}">${P.esc(P.code("status", q.status))}</span>`}], box.queries)
      : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")}));
    const reqs = document.getElementById("h-requests");
    const steward = P.me.role === "steward";
    reqs.appendChild(box.requests.length ? P.table([{label: P.t("when"), value: (r) => P.time(r.created_at)},
      {label: P.t("direction"), value: (r) => P.t(r.direction)}, {label: P.t("partner_col"), value: (r) => r.partner},
      {label: P.t("user"), value: (r) => r.requested_by}, {label: P.t("purpose_col"), value: (r) => r.reason},
      {label: P.t("status"), html: (r) => `<span class="pill ${r.status === "approved" ? "ok" : r.status === "refused" ? "bad" : "warn"}">${P.esc(P.code("status", r.status))}</span>` +
        (steward && r.direction === "received" && r.status === "pending" ? ` <button class="link dec" data-id="${P.esc(r.request_id)}" data-ok="1">${P.t("approve")}</button><button class="link dec" data-id="${P.esc(r.request_id)}" data-ok="0">${P.t("refuse")}</button>` : "")}], box.requests)
      : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")}));
    reqs.querySelectorAll("button.dec").forEach((b) => b.addEventListener("click", async () => {
      const reason = prompt(P.t("decision_reason"));
      if (!reason) return;
      await P.api(`/api/v1/hits/requests/${encodeURIComponent(b.dataset.id)}/decision`, {}, {method: "POST", purpose: false, body: {approve: b.dataset.ok === "1", reason}});
      P.route();
    }));
  };
  P.pages.inbox = {render};
})();

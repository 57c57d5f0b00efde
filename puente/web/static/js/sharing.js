// Sharing page (stewards and admins): the agreements in force with what each withholds and why, and the
// bundles sent and received. Users page (admins): the node's accounts. Both read existing API endpoints.
(function () {
  const empty = () => Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")});
  const region = (id, label) => `<div id="${id}" class="scroll" tabindex="0" role="region" aria-label="${P.esc(label)}"></div>`;
  const render = async (el) => {
    const gen = P.gen;
    if (!["steward", "admin"].includes(P.me.role)) { el.innerHTML = `<div class="card empty">${P.t("stewards_only")}</div>`; return; }
    el.innerHTML = `<div class="card"><h2>${P.t("agreements")}</h2>${region("g-agreements", P.t("agreements"))}</div>
      <div class="card"><h2>${P.t("agreement_fields")}</h2><p class="muted small">${P.t("agreement_fields_intro")}</p>${region("g-fields", P.t("agreement_fields"))}</div>
      <div class="card"><h2>${P.t("bundles")}</h2>${region("g-bundles", P.t("bundles"))}</div>
      <div class="card"><h2>${P.t("revocations")}</h2><p class="muted small">${P.t("revocations_intro")}</p>${region("g-revocations", P.t("revocations"))}</div>
      <div class="card"><h2>${P.t("receipts")}</h2>${region("g-receipts", P.t("receipts"))}</div>
      <div class="card"><h2>${P.t("retention_held")}</h2><p class="muted small">${P.t("retention_intro")}</p>${region("g-retention", P.t("retention_held"))}</div>`;
    const [agreements, withheld, bundles] = await Promise.all([P.api("/api/v1/agreements", {}, {purpose: false}).catch(() => []),
      P.api("/api/v1/agreements/withheld", {}, {purpose: false}).catch(() => []), P.api("/api/v1/bundles", {limit: 500}, {purpose: false}).catch(() => [])]);
    if (P.staleSince(gen)) return;
    const $ = (id) => document.getElementById(id);
    $("g-agreements").appendChild(agreements.length ? P.table([{label: P.t("agreement"), value: (a) => a.agreement + " v" + a.version},
      {label: P.t("partner_col"), value: (a) => a.partner}, {label: P.t("status"), value: (a) => P.code("status", a.status)},
      {label: P.t("purpose_col"), value: (a) => a.purpose || ""}, {label: P.t("handling"), value: (a) => a.handling || ""},
      {label: P.t("retention"), num: true, value: (a) => a.retention_days == null ? "–" : P.num(a.retention_days) + " " + P.t("days")},
      {label: P.t("valid"), value: (a) => (a.valid_from || "") + " → " + (a.valid_until || "")},
      {label: P.t("kinds"), value: (a) => a.kinds.map((k) => P.kindLabel(k)).join(", ")},
      {label: P.t("installed"), value: (a) => P.time(a.installed_at)}], agreements) : empty());
    const rows = withheld.flatMap((w) => Object.entries(w.fields).map(([field, why]) => ({...w, field, why})));
    $("g-fields").appendChild(rows.length ? P.table([{label: P.t("partner_col"), value: (r) => r.partner}, {label: P.t("agreement"), value: (r) => r.agreement},
      {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("field"), value: (r) => P.fieldLabel(r.kind, r.field)},
      {label: P.t("rule"), value: (r) => rule(r.why)}], rows) : empty());
    $("g-bundles").appendChild(bundles.length ? P.table([{label: P.t("created"), value: (b) => P.time(b.created)},
      {label: P.t("direction"), value: (b) => P.code("status", b.direction)}, {label: P.t("partner_col"), value: (b) => b.partner},
      {label: P.t("agreement"), value: (b) => b.agreement}, {label: "#", num: true, value: (b) => P.num(b.sequence)},
      {label: P.t("records_col"), num: true, value: (b) => P.num(b.records)}, {label: P.t("deleted"), num: true, value: (b) => P.num(b.deleted)},
      {label: P.t("expires"), value: (b) => P.time(b.expires)}], bundles) : empty());
    const [revs, recs, kept] = await Promise.all(["/api/v1/revocations", "/api/v1/receipts", "/api/v1/retention"]
      .map((path) => P.api(path, {}, {purpose: false}).catch(() => [])));
    if (P.staleSince(gen)) return;
    $("g-revocations").appendChild(revs.length ? P.table([{label: P.t("revoked_at"), value: (r) => P.time(r.revoked_at)},
      {label: P.t("partner_col"), value: (r) => r.partner}, {label: P.t("agreement"), value: (r) => r.agreement || ""},
      {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)},
      {label: P.t("bundle"), value: (r) => r.bundle_id ? r.bundle_id.slice(0, 12) : P.t("not_sent_yet")},
      {label: P.t("receipts"), value: (r) => r.receipt ? P.t("confirmed") + " · " + r.receipt.slice(0, 8) : P.t("awaiting_receipt")}], revs) : empty());
    $("g-receipts").appendChild(recs.length ? P.table([{label: P.t("received"), value: (r) => P.time(r.received_at)},
      {label: P.t("partner_col"), value: (r) => r.partner}, {label: P.t("agreement"), value: (r) => r.agreement || ""},
      {label: P.t("purged_at"), value: (r) => P.time(r.purged_at)}, {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)},
      {label: P.t("terminated"), value: (r) => r.terminated ? P.t("yes") : P.t("no")}, {label: "Id", value: (r) => r.receipt_id.slice(0, 12)}], recs) : empty());
    $("g-retention").appendChild(kept.length ? P.table([{label: P.t("partner_col"), value: (r) => r.owner},
      {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)},
      {label: P.t("retain_earliest"), value: (r) => r.earliest || "–"}, {label: P.t("retain_latest"), value: (r) => r.latest || "–"},
      {label: P.t("within_30"), num: true, value: (r) => P.num(r.within_30_days)}, {label: P.t("expired_purge"), num: true, value: (r) => P.num(r.expired)},
      {label: P.t("no_limit"), num: true, value: (r) => P.num(r.no_limit)}], kept) : empty());
  };
  // "agreement kinds.person.fields.curp: match_only" → the clause, then the transform in the reader's language
  const rule = (why) => {
    const m = /^agreement (\S+): (\w+)/.exec(why || "");
    if (!m) return why || "";
    const label = P.t("rule." + m[2]);
    return `${m[1]} · ${label === "rule." + m[2] ? m[2] : label} (${m[2]})`;
  };
  P.pages.sharing = {render};
  const users = async (el) => {
    const gen = P.gen;
    if (P.me.role !== "admin") { el.innerHTML = `<div class="card empty">${P.t("admins_only")}</div>`; return; }
    el.innerHTML = `<div class="card"><h2>${P.t("nav_users")}</h2>${region("u-table", P.t("nav_users"))}</div>`;
    const list = await P.api("/api/v1/users", {}, {purpose: false});
    if (P.staleSince(gen)) return;
    document.getElementById("u-table").appendChild(P.table([{label: P.t("user"), value: (u) => u.username},
      {label: P.t("role"), value: (u) => P.code("role", u.role)}, {label: P.t("partner_col"), value: (u) => u.partner || ""},
      {label: P.t("failed_logins"), num: true, value: (u) => P.num(u.failed_logins)},
      {label: P.t("locked_until"), value: (u) => u.locked_until ? P.time(u.locked_until) : ""},
      {label: P.t("status"), value: (u) => u.disabled ? P.t("disabled") : P.t("active")}], list));
  };
  P.pages.users = {render: users};
})();

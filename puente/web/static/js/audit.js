// Audit page: reads of partner data (who, when, what, why) and, for stewards, the tamper-evident
// Merkle log with its signed checkpoint; inclusion proofs are checked in the browser (RFC 9162).
(function () {
  const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
  const toHex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const nodeHash = async (l, r) => new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([1, ...l, ...r])));
  P.verifyInclusion = async (leafHex, index, size, proofHex, rootHex) => {
    let fn = index, sn = size - 1, r = hex(leafHex);
    for (const ph of proofHex) {
      const p = hex(ph);
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        r = await nodeHash(p, r);
        if (!(fn & 1)) { while (fn !== 0 && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
      } else { r = await nodeHash(r, p); }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && toHex(r) === rootHex;
  };
  // access-log actions: "list", "export-csv", "search q='x'", "export-csv search q='x'"
  P.actionLabel = (a) => {
    const m = /^(\S+)(?: search (q=.*))?$/.exec(a || "") || [];
    if (/^search q=/.test(a || "")) return P.code("action", "search") + " " + a.slice(7);
    return m[1] ? P.code("action", m[1]) + (m[2] ? " · " + P.code("action", "search") + " " + m[2] : "") : a;
  };
  // the server's audit reasons in the reader's language (the original stays in the title)
  P.reasonText = (r) => {
    const m = /^api (.+?): (\d+) (\S+) records \(owners: (.*?)\) by (.+?); purpose: (.*)$/.exec(r || "");
    if (!m) return r || "";
    return P.t("reason_api").replace("{action}", P.actionLabel(m[1])).replace("{n}", P.num(m[2])).replace("{kind}", P.kindLabel(m[3]))
      .replace("{owners}", m[4]).replace("{user}", m[5].replace(/\((\w[\w-]*)\)/, (_, role) => "(" + P.code("role", role) + ")")).replace("{purpose}", m[6]);
  };
  const merkle = async (box, gen) => {
    const cp = await P.api("/api/v1/audit/checkpoint", {}, {purpose: false});
    const entries = await P.api("/api/v1/audit/entries", {limit: 200}, {purpose: false});
    if (P.staleSince(gen)) return;
    box.innerHTML = `<div class="card"><h2>${P.t("merkle")}</h2>
      <div class="grid g3"><div><div class="small muted">${P.t("tree_size")}</div><div class="kpi">${P.num(cp.size)}</div></div>
      <div><div class="small muted">${P.t("root")}</div><code class="small" id="m-root">${P.esc(cp.root)}</code></div>
      <div><div class="small muted">${P.t("signed_at")}</div>${P.esc(P.time(cp.at))}</div></div><h3>${P.t("entries")}</h3><div id="m-table" class="scroll" tabindex="0" role="region" aria-label="${P.esc(P.t("merkle"))}"></div></div>`;
    const rows = entries.slice().reverse();
    const t = P.table([{label: "#", num: true, value: (e) => P.num(e.index)}, {label: P.t("when"), value: (e) => P.time(e.at)},
      {label: P.t("user"), value: (e) => e.actor}, {label: P.t("action"), value: (e) => P.code("action", e.action)}, {label: P.t("records_col"), num: true, value: (e) => P.num(e.records)},
      {label: P.t("reason"), html: (e) => `<span title="${P.esc(e.reason)}">${P.esc(P.reasonText(e.reason))}</span>`},
      {label: "", html: (e) => `<button class="link verify" data-i="${e.index}">${P.t("verify")}</button> <span class="v-${e.index}"></span>`}], rows);
    document.getElementById("m-table").appendChild(t);
    t.querySelectorAll("button.verify").forEach((b) => b.addEventListener("click", async () => {
      const p = await P.api("/api/v1/audit/proof/inclusion", {index: b.dataset.i, size: cp.size}, {purpose: false});
      const ok = await P.verifyInclusion(p.leaf_hash, p.index, p.size, p.proof, cp.root);
      const span = t.querySelector(".v-" + b.dataset.i);
      span.className = "pill " + (ok ? "ok" : "bad") + " v-" + b.dataset.i;
      span.textContent = ok ? P.t("included") : P.t("not_included");
    }));
  };
  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="card"><h2>${P.t("access_log")}</h2><p class="muted">${P.t("audit_intro")}</p><div id="a-table" style="max-height:360px;overflow:auto" tabindex="0" role="region" aria-label="${P.esc(P.t("access_log"))}"></div></div><div id="a-merkle"></div>`;
    const rows = await P.api("/api/v1/access-log", {limit: 500}, {purpose: false});
    if (P.staleSince(gen)) return;
    const cols = [{label: P.t("when"), value: (r) => P.time(r.at)}, {label: P.t("user"), value: (r) => r.username}, {label: P.t("role"), value: (r) => P.code("role", r.role)},
      {label: P.t("action"), value: (r) => P.actionLabel(r.action)}, {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records_col"), num: true, value: (r) => P.num(r.records)},
      {label: P.t("owners"), value: (r) => r.owners}, {label: P.t("purpose_col"), value: (r) => r.purpose || ""}];
    const box = document.getElementById("a-table");
    box.appendChild(rows.length ? P.table(cols, rows) : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")}));
    if (["steward", "admin"].includes(P.me.role)) await merkle(document.getElementById("a-merkle"), gen);
  };
  P.pages.audit = {render};
})();

// Audit page: reads of partner data and sensitive fields (who, when, what, why).
(function () {
  const render = async (el) => {
    const gen = P.gen;
    el.innerHTML = `<div class="card"><h2>${P.t("nav_audit")}</h2><p class="muted">${P.t("audit_intro")}</p><div id="a-table"></div></div><div id="a-merkle"></div>`;
    const rows = await P.api("/api/v1/access-log", {limit: 500}, {purpose: false});
    if (P.staleSince(gen)) return;
    const cols = [{label: P.t("when"), value: (r) => r.at.slice(0, 19)}, {label: P.t("user"), value: (r) => r.username}, {label: P.t("role"), value: (r) => r.role},
      {label: P.t("action"), value: (r) => r.action}, {label: P.t("kind"), value: (r) => P.kindLabel(r.kind)}, {label: P.t("records"), num: true, value: (r) => r.records},
      {label: P.t("owners"), value: (r) => r.owners}, {label: P.t("purpose_col"), value: (r) => r.purpose || ""}];
    const box = document.getElementById("a-table");
    box.appendChild(rows.length ? P.table(cols, rows) : Object.assign(document.createElement("div"), {className: "empty", textContent: P.t("none_yet")}));
    if (P.pages.audit.merkle) await P.pages.audit.merkle(document.getElementById("a-merkle"));
  };
  P.pages.audit = {render};
})();

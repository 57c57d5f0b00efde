// Shared dashboard state and helpers: API calls with the session token, language, labels, routing.
const P = window.P = {
  lang: localStorage.getItem("puente.lang") || ((navigator.language || "en").startsWith("es") ? "es" : "en"),
  token: sessionStorage.getItem("puente.token"), me: null, model: null, pages: {}, current: null,
};
P.t = (key) => (STRINGS[P.lang] && STRINGS[P.lang][key]) || STRINGS.en[key] || key;
P.esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
P.locale = () => P.lang === "es" ? "es-MX" : "en-US";
P.num = (v, d = 0) => v == null || v === "" || isNaN(Number(v)) ? "–" : new Intl.NumberFormat(P.locale(), {maximumFractionDigits: d, minimumFractionDigits: 0}).format(Number(v));
// A figure with its unit ("1,234.5 kg", "12 pastillas"): every number on screen says what it counts.
P.qty = (v, unit, d = 1) => P.num(v, d) + " " + (P.model && P.model.vocabularies.units && P.model.vocabularies.units[unit] ? P.term("units", unit) : unit);
// Timestamps in the reader's locale, with their time zone (stored times are UTC).
P.time = (v) => {
  if (!v) return "";
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : String(v).replace(" ", "T") + "Z");
  if (isNaN(d)) return String(v);
  return new Intl.DateTimeFormat(P.locale(), {year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"}).format(d);
};
P.purpose = () => (document.getElementById("purpose").value || "").trim();
// Server codes (statuses, audit actions, scopes) shown in the reader's language; unknown codes as they are.
P.code = (group, v) => v == null ? "" : (STRINGS[P.lang][group + "." + v] || STRINGS.en[group + "." + v] || String(v));
P.kindLabel = (k) => P.model && P.model.kinds[k] ? P.model.kinds[k].label[P.lang] : k;
P.fieldLabel = (k, f) => {
  const kind = P.model && P.model.kinds[k];
  const sys = STRINGS[P.lang]["field." + f] || STRINGS.en["field." + f];  // columns every record has (owner_node, ingested_at)
  if (sys) return sys;
  if (!kind) return f;
  if (kind.fields[f]) return kind.fields[f].label[P.lang];
  const base = f.replace(/_(text|id|name|admin1|country|lat|lon|h3)$/, "");
  return kind.fields[base] ? kind.fields[base].label[P.lang] + " · " + f.slice(base.length + 1) : f;
};
P.term = (vocab, code) => {
  const v = P.model && P.model.vocabularies[vocab];
  return v && v[code] ? v[code][P.lang] : code;
};
P.drugColor = (d) => ({fentanyl: "#dc2626", methamphetamine: "#7c3aed", cocaine: "#2563eb", heroin: "#92400e", marijuana: "#16a34a"}[d] || "#64748b");
P.toast = (msg) => {
  const el = document.getElementById("toast");
  el.textContent = msg; el.classList.remove("hidden");
  clearTimeout(P._toast); P._toast = setTimeout(() => el.classList.add("hidden"), 5000);
};
P.qs = (params) => Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "")
  .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
P.api = async (path, params = {}, opts = {}) => {
  const purpose = P.purpose();
  if (purpose && opts.purpose !== false && !("purpose" in params)) params = {...params, purpose};
  const q = P.qs(params);
  const res = await fetch(path + (q ? "?" + q : ""), {
    method: opts.method || "GET",
    headers: {"Authorization": "Bearer " + P.token, "Accept-Language": P.lang,
              ...(opts.body ? {"Content-Type": "application/json"} : {})},
    body: opts.body ? JSON.stringify(opts.body) : undefined,
  });
  if (res.status === 401) { P.logout(P.t("session_expired")); throw new Error("401"); }
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (e) { /* not json */ }
    P.toast(detail); const err = new Error(detail); err.status = res.status; throw err;
  }
  if (opts.raw) return res;
  return res.status === 204 ? null : res.json();
};
P.download = async (path, params, filename) => {
  const res = await P.api(path, params, {raw: true});
  const blob = await res.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = filename; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 2000);
};
P.applyLang = () => {
  document.documentElement.lang = P.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = P.t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = P.t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-lang]").forEach((b) => b.classList.toggle("on", b.dataset.lang === P.lang));
  P.purposeState();
};
P.setLang = (lang) => {
  P.lang = lang; localStorage.setItem("puente.lang", lang); P.applyLang();
  if (P.me) P.route();
};
P.purposeState = () => {
  const on = P.purpose().length >= 5, el = document.getElementById("purpose-state");
  el.textContent = on ? P.t("purpose_on") : P.t("purpose_off");
  el.className = "pill " + (on ? "warn" : "");
};
P.logout = (message) => {
  if (P.token) fetch("/api/v1/auth/logout", {method: "POST", headers: {"Authorization": "Bearer " + P.token}}).catch(() => {});
  P.token = null; P.me = null; sessionStorage.removeItem("puente.token"); sessionStorage.removeItem("puente.purpose");
  document.getElementById("purpose").value = "";
  document.getElementById("app").classList.add("hidden");
  document.getElementById("login-view").classList.remove("hidden");
  if (message) document.getElementById("login-error").textContent = message;
};
P.route = () => {
  const path = P.hashParts().path || "map";
  const [name, ...rest] = path.split("/");
  const page = P.pages[name] ? name : "map";
  document.querySelectorAll(".sidebar a[data-page]").forEach((a) => {
    const on = a.dataset.page === page;
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    a.setAttribute("href", P.link(a.dataset.page));  // moving between pages keeps the filters
  });
  // only the filters changed on a page that can redraw in place (the map keeps its zoom)
  if (P.current === P.pages[page] && P._path === path && P.current.update && P._lang === P.lang && P._purpose === P.purpose()) {
    const el = document.getElementById("page"), gen = P.gen;
    delete el.dataset.ready;
    el.dataset.path = path;
    Promise.resolve(P.current.update()).finally(() => { if (!P.staleSince(gen)) el.dataset.ready = "1"; });
    return;
  }
  P._path = path; P._lang = P.lang; P._purpose = P.purpose();
  document.getElementById("page-title").textContent = P.t("nav_" + page);
  document.title = P.t("nav_" + page) + " · Puente";
  const el = document.getElementById("page");
  if (P.current && P.current.leave) P.current.leave();
  el.className = "page" + (P.pages[page].full ? " full" : "");
  el.innerHTML = "";
  P.current = P.pages[page];
  P.gen = (P.gen || 0) + 1;
  // data-ready marks the page as drawn (tests and screenshots wait for it)
  const gen = P.gen;
  delete el.dataset.ready;
  el.dataset.path = path;  // which route data-ready is for (a test that changed the hash waits for both)
  Promise.resolve(P.current.render(el, rest.map(decodeURIComponent).join("/"))).finally(() => { if (!P.staleSince(gen)) el.dataset.ready = "1"; });
};
// True once the user has left the page a render started on (its awaits must stop touching the DOM).
P.staleSince = (gen) => gen !== P.gen;
P.table = (cols, rows, onClick) => {
  const head = "<tr>" + cols.map((c) => `<th class="${c.num ? "num" : ""}">${P.esc(c.label)}</th>`).join("") + "</tr>";
  const body = rows.map((r, i) => `<tr class="${onClick ? "click" : ""}" data-i="${i}"${onClick ? ' tabindex="0"' : ""}>` +
    cols.map((c) => `<td class="${c.num ? "num" : ""}">${c.html ? c.html(r) : P.esc(c.value(r))}</td>`).join("") + "</tr>").join("");
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  wrap.innerHTML = `<table class="data"><thead>${head}</thead><tbody>${body}</tbody></table>`;
  if (onClick) wrap.querySelectorAll("tbody tr").forEach((tr) => {
    tr.addEventListener("click", () => onClick(rows[+tr.dataset.i]));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onClick(rows[+tr.dataset.i]); } });
  });
  return wrap;
};

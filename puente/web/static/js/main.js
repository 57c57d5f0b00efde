// Boot: log in, load the model (labels, vocabularies), route between pages.
(function () {
  const start = async () => {
    try {
      P.me = await P.api("/api/v1/me", {}, {purpose: false});
      P.model = await P.api("/api/v1/model", {}, {purpose: false});
    } catch (e) { return; }
    document.getElementById("login-view").classList.add("hidden");
    document.getElementById("app").classList.remove("hidden");
    document.getElementById("node-badge").textContent = P.me.node + " · " + P.me.country;
    document.getElementById("user-name").textContent = P.me.username;
    document.getElementById("user-role").textContent = P.code("role", P.me.role);
    // pages for some roles only (the API refuses the others anyway)
    document.querySelectorAll(".sidebar a[data-roles]").forEach((a) => a.classList.toggle("hidden", !a.dataset.roles.split(" ").includes(P.me.role)));
    P.applyLang();
    P.route();
    // after logging in, the keyboard continues in the page (the login form it was in is gone)
    if (!document.activeElement || document.activeElement === document.body || document.getElementById("login-view").contains(document.activeElement)) {
      document.getElementById("page").focus();
    }
  };
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.textContent = "";
    const res = await fetch("/api/v1/auth/login", {method: "POST", headers: {"Content-Type": "application/json", "Accept-Language": P.lang},
      body: JSON.stringify({username: document.getElementById("login-user").value, password: document.getElementById("login-pass").value})});
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { err.textContent = body.detail || P.t("error_login"); return; }
    P.token = body.token; sessionStorage.setItem("puente.token", P.token);
    document.getElementById("login-pass").value = "";
    start();
  });
  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => P.setLang(b.dataset.lang)));
  document.getElementById("logout").addEventListener("click", () => P.logout());
  let timer = null;
  const purposeBox = document.getElementById("purpose");
  purposeBox.value = sessionStorage.getItem("puente.purpose") || "";  // survives a reload within the session
  purposeBox.addEventListener("input", () => {
    sessionStorage.setItem("puente.purpose", purposeBox.value);
    P.purposeState();
    clearTimeout(timer);
    purposeBox.dataset.pending = "1";  // a re-route is due (tests wait for it to clear, then for data-ready)
    timer = setTimeout(() => {
      delete purposeBox.dataset.pending;
      const p = P.purpose(); if (p.length === 0 || p.length >= 5) P.route();
    }, 700);
  });
  window.addEventListener("hashchange", () => { if (P.me) P.route(); });
  // the skip link moves the focus to the page's content (its href would otherwise change the route)
  document.getElementById("skip").addEventListener("click", (e) => {
    e.preventDefault();
    const target = P.me ? document.getElementById("page") : document.getElementById("login-user");
    target.focus();
  });
  // narrow screens: the navigation folds behind a menu button
  const toggle = document.getElementById("nav-toggle");
  toggle.addEventListener("click", () => {
    const open = document.getElementById("app").classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  document.querySelectorAll(".sidebar a[data-page]").forEach((a) => a.addEventListener("click", () => {
    document.getElementById("app").classList.remove("nav-open"); toggle.setAttribute("aria-expanded", "false");
  }));
  P.applyLang();
  if (P.token) start(); else document.getElementById("login-view").classList.remove("hidden");
})();

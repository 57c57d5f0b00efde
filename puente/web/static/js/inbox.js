// Hit/no-hit inbox: queries sent to and received from the partner, and follow-up requests.
(function () {
  const render = async (el) => {
    el.innerHTML = `<div class="card"><h2>${P.t("nav_inbox")}</h2><p class="muted">${P.t("inbox_intro")}</p><div id="i-body"></div></div>`;
    if (P.pages.inbox.body) { await P.pages.inbox.body(document.getElementById("i-body")); return; }
    document.getElementById("i-body").innerHTML = `<div class="empty">${P.t("not_installed")}</div>`;
  };
  P.pages.inbox = {render};
})();

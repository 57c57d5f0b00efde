// The API reference at /api/docs: Swagger UI from the vendored bundle, reading this node's OpenAPI document
// (no CDN, no external favicon or validator badge, so it works offline and under the dashboard's CSP).
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
// Swagger UI puts the operation's path link inside the expand button (a control inside a control, which
// screen readers cannot reach on its own): the link becomes plain text, the button still expands the operation.
new MutationObserver(() => {
  document.querySelectorAll(".opblock-summary-control a[href]").forEach((a) => a.removeAttribute("href"));
}).observe(document.getElementById("swagger-ui"), {childList: true, subtree: true});

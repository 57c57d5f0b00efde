// The API reference at /api/docs: Swagger UI from the vendored bundle, reading this node's OpenAPI document
// (no CDN, no external favicon or validator badge, so it works offline and under the dashboard's CSP).
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null, presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});

// Starts Swagger UI on /docs. A file, not an inline script, so the page's CSP can forbid
// inline script; the page passes the document's address in a data attribute.
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // The token a developer pastes into "Authorize" stays in this page's memory: never in
    // localStorage, where any script on this origin could read it.
    persistAuthorization: false,
    // Swagger UI would otherwise send the document to validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

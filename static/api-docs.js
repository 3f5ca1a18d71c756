// The API documentation page: Swagger UI over this site's own OpenAPI document.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root || typeof SwaggerUIBundle !== "function") { return; }
  SwaggerUIBundle({ url: root.dataset.spec, domNode: root, deepLinking: true, tryItOutEnabled: false });
})();

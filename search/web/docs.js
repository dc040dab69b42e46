// The API's documentation at /docs: Swagger UI on /openapi.json, started from this file rather
// than an inline script, which the Content-Security-Policy forbids.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,  // no badge fetched from the validator's site
});

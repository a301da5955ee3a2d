// apigate's reference page: Swagger UI on the stage's OpenAPI document, served by the gateway itself.
// The spec's server is the stage on this same origin, so "Try it out" calls the live stage.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never send the document to swagger.io's validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    docExpansion: "list",
    tryItOutEnabled: false,
    onComplete: function () { document.body.setAttribute("data-rendered", "yes"); }
  });
});

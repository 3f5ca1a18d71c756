/* The dashboard's only script besides htmx: a visible notice when an htmx request fails
   (htmx does not swap 4xx/5xx answers, so without this a failed save would look like nothing).
   Loaded from our own origin: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  function show(key) {
    var notice = document.getElementById("htmx-notice");
    if (!notice) { return; }
    notice.textContent = notice.dataset[key] || "";
    notice.hidden = false;
  }
  function hide() {
    var notice = document.getElementById("htmx-notice");
    if (notice) { notice.hidden = true; }
  }
  document.addEventListener("htmx:responseError", function () { show("failed"); });
  document.addEventListener("htmx:sendError", function () { show("offline"); });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { hide(); }
  });
})();

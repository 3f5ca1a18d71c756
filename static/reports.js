// The monthly report page: print, copy a new parent link, and the whole lecture's PDF with a busy state.
// Delegated listeners, so the parts htmx swaps in keep working. Without JavaScript the links still work.
(function () {
  "use strict";

  function download(link) {
    var status = document.querySelector(".report-busy");
    var label = link.textContent;
    link.setAttribute("aria-busy", "true");
    link.classList.add("is-busy");
    if (status) { status.textContent = link.dataset.busyText || ""; }
    fetch(link.href, {credentials: "same-origin"}).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.blob();
    }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var save = document.createElement("a");
      save.href = url;
      save.download = link.href.split("/").pop().split("?")[0];
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function () {
      window.location.href = link.href;  // let the server's own answer show
    }).finally(function () {
      link.removeAttribute("aria-busy");
      link.classList.remove("is-busy");
      link.textContent = label;
      if (status) { status.textContent = ""; }
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-print], [data-copy], [data-lecture-pdf]");
    if (!target) { return; }
    if (target.matches("[data-print]")) {
      window.print();
    } else if (target.matches("[data-copy]")) {
      var input = document.getElementById(target.dataset.copy);
      if (!input) { return; }
      input.select();
      var done = function () { target.textContent = target.dataset.copiedText || target.textContent; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    } else if (target.matches("[data-lecture-pdf]")) {
      if (target.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
      if (!window.fetch || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
      event.preventDefault();
      download(target);
    }
  });
})();

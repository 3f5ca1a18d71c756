/* The dashboard's only script besides htmx (page scripts live in their own files).
   Loaded from our own origin: the Content-Security-Policy allows no inline script.

   1. Busy states. Every htmx request marks the control that sent it `aria-busy` and disables it
      until the answer arrives (a form: its submit buttons), so a second click sends nothing; a
      button with `data-busy="..."` says what it is doing meanwhile ("Saving the policy…").
      A plain form post does the same until the next page arrives.
   2. Failures are never silent: htmx does not swap 4xx/5xx answers, so the notice under the
      header says what went wrong; a lost connection or a server error offers to try again. */
(function () {
  "use strict";

  var SUBMITS = "button:not([type]), button[type=submit], input[type=submit]";
  var busy = new WeakMap();  // element -> the controls this script disabled for it
  var failed = null;         // the last request that failed, to send again

  // ---------------------------------------------------------------- busy states

  function controlsOf(elt, submitter) {
    if (elt.tagName === "FORM") {
      var controls = Array.prototype.slice.call(elt.querySelectorAll(SUBMITS));
      if (elt.id) {  // buttons outside the form that submit it
        controls = controls.concat(Array.prototype.slice.call(
          document.querySelectorAll('button[form="' + elt.id + '"], input[type=submit][form="' + elt.id + '"]')));
      }
      if (submitter && controls.indexOf(submitter) < 0) { controls.push(submitter); }
      return controls;
    }
    // A button sends its own request; a text box or a select (search as you type, filters)
    // keeps working — disabling it would take the focus from the person typing.
    return elt.tagName === "BUTTON" ? [elt] : [];
  }

  function markBusy(elt, submitter) {
    if (busy.has(elt)) { return; }
    var disabled = [];
    controlsOf(elt, submitter).forEach(function (control) {
      if (!control.disabled) {
        control.disabled = true;
        disabled.push(control);
      }
      control.setAttribute("aria-busy", "true");
      if (control === (submitter || elt) && control.dataset.busy && control.tagName === "BUTTON") {
        control.dataset.idleLabel = control.textContent;
        control.textContent = control.dataset.busy;
      }
    });
    if (elt.tagName === "A") { elt.setAttribute("aria-disabled", "true"); }
    elt.setAttribute("aria-busy", "true");
    busy.set(elt, disabled);
  }

  function clearBusy(elt) {
    var disabled = busy.get(elt);
    if (!disabled) { return; }
    busy.delete(elt);
    elt.removeAttribute("aria-busy");
    if (elt.tagName === "A") { elt.removeAttribute("aria-disabled"); }
    controlsOf(elt).concat(disabled).forEach(function (control) {
      control.removeAttribute("aria-busy");
      if ("idleLabel" in control.dataset) {
        control.textContent = control.dataset.idleLabel;
        delete control.dataset.idleLabel;
      }
    });
    disabled.forEach(function (control) { control.disabled = false; });
  }

  function triggeringEvent(detail) {
    return (detail.requestConfig && detail.requestConfig.triggeringEvent) || null;
  }

  // The button that submitted a form (its name and value are part of the request: Preview or Save).
  function submitterOf(detail) {
    var trigger = triggeringEvent(detail);
    if (trigger && trigger.submitter) { return trigger.submitter; }
    var active = document.activeElement;
    return active && active.form === detail.elt && active.matches(SUBMITS) ? active : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    markBusy(event.detail.elt, submitterOf(event.detail));
  });
  ["htmx:afterRequest", "htmx:sendError", "htmx:timeout", "htmx:abort"].forEach(function (name) {
    document.addEventListener(name, function (event) { clearBusy(event.detail.elt); });
  });

  // A plain form post (no htmx): busy until the next page. The submitter is disabled only after
  // the submit event, once the browser has taken its name and value into the form data.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || busy.has(form)) { return; }  // htmx sends its own forms
    var submitter = event.submitter || null;
    window.setTimeout(function () { markBusy(form, submitter); }, 0);
    // A form that answers with a download leaves this page in place: give the controls back
    // after a while, unless the form says it is a long action.
    var long = (submitter && submitter.dataset.busy) || form.dataset.busy;
    if (!long) { window.setTimeout(function () { clearBusy(form); }, 15000); }
  });
  // Back to a page kept in the browser's cache: nothing is on its way any more.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("[aria-busy=true]").forEach(clearBusy);
  });

  // ---------------------------------------------------------------- failures

  function notice() { return document.getElementById("htmx-notice"); }

  function show(key, retry) {
    var box = notice();
    if (!box) { return; }
    var text = box.querySelector(".notice-text") || box;
    text.textContent = box.dataset[key] || box.dataset.failed || "";
    var button = box.querySelector(".notice-retry");
    if (button) { button.hidden = !retry; }
    box.hidden = false;
  }

  function hide() {
    var box = notice();
    if (box) { box.hidden = true; }
    failed = null;
  }

  function remember(detail) {
    var trigger = triggeringEvent(detail);
    failed = { elt: detail.elt, type: trigger ? trigger.type : "click", submitter: submitterOf(detail) };
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500) {
      remember(event.detail);
      show("server", true);
    } else {
      failed = null;
      show("failed", false);
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    remember(event.detail);
    show("offline", true);
  });
  document.addEventListener("htmx:timeout", function (event) {
    remember(event.detail);
    show("offline", true);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { hide(); }
  });

  // Try again: the same control sends the same request; if the page changed under it, reload.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#htmx-notice .notice-retry");
    if (!button || !failed) { return; }
    var again = failed;
    hide();
    if (!again.elt.isConnected || !window.htmx) {
      window.location.reload();
    } else if (again.elt.tagName === "FORM" && again.type === "submit") {
      // A click on the same button, as the person did: htmx sends that button's name and value.
      if (again.submitter && again.submitter.isConnected) { again.submitter.click(); } else { again.elt.requestSubmit(); }
    } else {
      window.htmx.trigger(again.elt, again.type);
    }
  });
})();

// A wide table that scrolls in its own box on a small screen can be scrolled with the keyboard:
// it becomes focusable (and takes its caption as its name) while it overflows.
(function () {
  "use strict";
  function markScrollableTables() {
    document.querySelectorAll("table.table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.dataset.scrollFocus = "1";
      } else if (!scrolls && table.dataset.scrollFocus) {
        table.removeAttribute("tabindex");
        delete table.dataset.scrollFocus;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", markScrollableTables);
  document.addEventListener("htmx:afterSettle", markScrollableTables);
  window.addEventListener("resize", markScrollableTables);
})();

/* The roll-call and column-entry page (templates/entry/column.html): spreadsheet keys, a pasted
   column, "all present", "fill down", the unsaved-changes warning and the busy Save button.
   The page works without this file: it is a plain form that posts every cell. */
(function () {
  "use strict";

  var PRESENCE_KEYS = { KeyP: "present", KeyL: "late", KeyA: "absent", KeyE: "excused" };
  // Words a pasted roll-call cell may hold: the SPEC words, their first letters, and the Korean ones.
  var PRESENCE_WORDS = {
    present: "present", p: "present", "출석": "present", "출": "present", o: "present",
    late: "late", l: "late", "지각": "late", "지": "late",
    absent: "absent", a: "absent", "결석": "absent", "결": "absent", x: "absent",
    excused: "excused", e: "excused", "공결": "excused", "공": "excused",
    "": "", "-": "", "–": ""
  };
  var TRUE_WORDS = ["1", "y", "yes", "true", "o", "v", "✓", "예", "ㅇ"];

  function start(form) {
    var table = form.querySelector("table");
    if (!table || !table.tBodies.length) { return; }
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var tools = form.querySelector("[data-entry-tools]");
    var saveButton = form.querySelector("[data-entry-save]");
    var dirty = false;
    var saving = false;
    var lastCell = null;

    if (tools) { tools.hidden = false; }

    function cellsOf(row) { return Array.prototype.slice.call(row.querySelectorAll("td[data-col]")); }
    function cellAt(r, c) { return rows[r] ? cellsOf(rows[r])[c] || null : null; }
    function isPresence(td) { return td.getAttribute("data-col") === "presence"; }

    function focusTarget(td) {
      if (!td) { return null; }
      if (isPresence(td)) { return td.querySelector("input:checked") || td.querySelector("input"); }
      return td.querySelector("input");
    }

    function where(element) {
      var td = element.closest("td[data-col]");
      if (!td) { return null; }
      var row = td.parentElement;
      return { td: td, r: rows.indexOf(row), c: cellsOf(row).indexOf(td) };
    }

    function focusCell(td) {
      var target = focusTarget(td);
      if (!target) { return false; }
      target.focus();
      if (target.type === "text") { target.select(); }
      return true;
    }

    function move(element, dr, dc) {
      var at = where(element);
      return at ? focusCell(cellAt(at.r + dr, at.c + dc)) : false;
    }

    function markDirty() { dirty = true; }

    function setPresence(td, value) {
      var radio = td.querySelector('input[type="radio"][value="' + value + '"]');
      if (radio && !radio.checked) { radio.checked = true; markDirty(); }
    }

    // Puts a (pasted or copied) text into a cell, whatever its kind; answers whether it fitted.
    function setCell(td, text) {
      if (!td) { return false; }
      var value = String(text).trim();
      if (isPresence(td)) {
        var word = PRESENCE_WORDS[value.toLowerCase()];
        if (word === undefined) { return false; }
        setPresence(td, word);
        return true;
      }
      var input = td.querySelector("input");
      if (!input) { return false; }
      if (input.type === "checkbox") {
        var checked = TRUE_WORDS.indexOf(value.toLowerCase()) >= 0;
        if (input.checked !== checked) { input.checked = checked; markDirty(); }
        return true;
      }
      if (input.value !== value) { input.value = value; markDirty(); }
      return true;
    }

    function valueOf(td) {
      if (isPresence(td)) {
        var checked = td.querySelector("input:checked");
        return checked ? checked.value : "";
      }
      var input = td.querySelector("input");
      if (!input) { return ""; }
      return input.type === "checkbox" ? (input.checked ? "1" : "0") : input.value;
    }

    form.addEventListener("focusin", function (event) {
      var at = where(event.target);
      if (at) { lastCell = at; }
    });

    form.addEventListener("input", markDirty);
    form.addEventListener("change", markDirty);

    form.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
        event.preventDefault();
        if (typeof form.requestSubmit === "function") { form.requestSubmit(saveButton || undefined); } else { form.submit(); }
        return;
      }
      var element = event.target;
      var at = where(element);
      if (!at || event.altKey || event.ctrlKey || event.metaKey) { return; }
      if (isPresence(at.td)) {
        var word = PRESENCE_KEYS[event.code];
        if (word) {
          event.preventDefault();
          setPresence(at.td, word);
          if (!move(element, 1, 0)) { focusCell(at.td); }
          return;
        }
        if (event.key === "Backspace" || event.key === "Delete") {
          event.preventDefault();
          setPresence(at.td, "");
          focusCell(at.td);
          return;
        }
      }
      var text = element.type === "text";
      switch (event.key) {
        case "Enter":
          event.preventDefault();  // Enter moves down, as in a spreadsheet; it never submits half a column
          move(element, event.shiftKey ? -1 : 1, 0);
          break;
        case "ArrowDown":
          event.preventDefault();
          move(element, 1, 0);
          break;
        case "ArrowUp":
          event.preventDefault();
          move(element, -1, 0);
          break;
        case "ArrowLeft":
          if (!text || (element.selectionStart === 0 && element.selectionEnd === 0)) {
            event.preventDefault();
            move(element, 0, -1);
          }
          break;
        case "ArrowRight":
          if (!text || (element.selectionStart === element.value.length && element.selectionEnd === element.value.length)) {
            event.preventDefault();
            move(element, 0, 1);
          }
          break;
        default:
          break;
      }
    });

    // A block copied from Excel or Google Sheets: lines of tab-separated cells, filled down (and
    // right) from the focused cell. A single value typed into one text cell pastes as usual.
    form.addEventListener("paste", function (event) {
      var at = where(event.target);
      var data = event.clipboardData || window.clipboardData;
      if (!at || !data) { return; }
      var text = data.getData("text");
      var lines = text.replace(/\r\n?/g, "\n").split("\n");
      if (lines.length > 1 && lines[lines.length - 1] === "") { lines.pop(); }
      if (lines.length === 1 && lines[0].indexOf("\t") < 0 && !isPresence(at.td)) { return; }
      event.preventDefault();
      lines.forEach(function (line, i) {
        line.split("\t").forEach(function (value, j) { setCell(cellAt(at.r + i, at.c + j), value); });
      });
      focusCell(cellAt(Math.min(at.r + lines.length - 1, rows.length - 1), at.c));
    });

    if (tools) {
      tools.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-action]");
        if (!button) { return; }
        var action = button.getAttribute("data-action");
        if (action === "all-present") {
          rows.forEach(function (row) {
            var td = row.querySelector('td[data-col="presence"]');
            if (td) { setPresence(td, "present"); }
          });
          focusCell(cellAt(0, 0));
        } else if (action === "fill-down" && lastCell) {
          var value = valueOf(lastCell.td);
          for (var r = lastCell.r + 1; r < rows.length; r += 1) { setCell(cellAt(r, lastCell.c), value); }
          focusCell(lastCell.td);
        }
      });
    }

    window.addEventListener("beforeunload", function (event) {
      if (dirty && !saving) {
        event.preventDefault();
        event.returnValue = form.getAttribute("data-unsaved") || "";
        return event.returnValue;
      }
      return undefined;
    });

    form.addEventListener("submit", function (event) {
      if (saving) { event.preventDefault(); return; }
      saving = true;
      form.setAttribute("aria-busy", "true");
      if (saveButton) {
        saveButton.disabled = true;
        saveButton.textContent = form.getAttribute("data-busy") || saveButton.textContent;
      }
    });

    // After a refused save: the first marked cell; after a save: the summary.
    var invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) {
      markDirty();  // the refused values are on the page only: leaving would lose them
      var input = invalid.matches("input") ? invalid : invalid.querySelector("input:checked, input");
      if (input) { input.focus(); }
    } else {
      var result = document.getElementById("entry-result");
      if (result) { result.focus(); }
    }
  }

  function init() {
    var form = document.querySelector("form[data-entry-session]");
    if (form) { start(form); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());

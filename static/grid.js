/* The lecture grid (templates/lectures/grid.html), on top of a page that works without it.

   0. A cell's link opens the cell's panel beside the grid (without JavaScript: its own page).
   1. One tab stop with a roving focus (the ARIA grid pattern): Tab enters the grid at one cell and
      leaves it at once; arrow keys move between cells, Home/End to the row's first/last cell
      (with Ctrl: the first/last row loaded), Page Up/Down by a screenful (Page Up stops at the
      first student); Enter opens the cell's
      panel (the link's own behaviour); Escape closes the panel and puts the focus back on its cell.
      Column 0 is the student's name; the header row's cells are the sessions' roll-call links.
   2. The grid opens scrolled sideways so that the current session (th[data-current]) is in view.
   3. Rows fetched as the teacher scrolls (#grid-more) or swapped after an edit join the roving
      focus and keep their row number for screen readers (aria-rowindex); a row fetched again
      because the order moved meanwhile replaces its earlier copy. */
(function () {
  "use strict";

  var remembered = null;  // the cell whose panel is open or that last had the focus: {enrollment, session}
  var shown = null;       // the grid table last prepared (a search or a sort brings a new one)

  function gridTable() { return document.querySelector("table.grid[role=grid]"); }

  function bodyRows(table) {
    return Array.prototype.slice.call(table.tBodies[0].querySelectorAll("tr[id^='row-']"));
  }

  function rowsOf(table) { return [table.tHead.rows[0]].concat(bodyRows(table)); }

  // The focusable element of each column in a row, in column order.
  function itemsOf(row) {
    if (row.parentNode.tagName === "THEAD") {
      return [row.querySelector("th.student-col")].concat(
        Array.prototype.slice.call(row.querySelectorAll("a.entry-link")));
    }
    return [row.querySelector("th a.student-name")].concat(
      Array.prototype.slice.call(row.querySelectorAll("td[data-session] > a")));
  }

  function keyOf(item) {
    var cell = item.closest("td[data-session]");
    if (cell) { return { enrollment: cell.dataset.enrollment, session: cell.dataset.session }; }
    var row = item.closest("tr[id^='row-']");
    return row ? { enrollment: row.id.slice(4), session: null } : null;
  }

  function find(table, key) {
    if (!key) { return null; }
    if (key.session === null) {
      return table.querySelector("#row-" + key.enrollment + " th a.student-name");
    }
    return table.querySelector('td[data-enrollment="' + key.enrollment + '"][data-session="' + key.session + '"] > a');
  }

  function activate(table, item, focus) {
    table.querySelectorAll("[data-roving][tabindex='0']").forEach(function (other) {
      if (other !== item) { other.tabIndex = -1; }
    });
    item.tabIndex = 0;
    item.dataset.roving = "";
    if (item.tagName === "A") { remembered = keyOf(item) || remembered; }
    if (focus) { item.focus(); }
  }

  // After the page loads or rows arrive: every item out of the tab order but one.
  function prepare(table) {
    var rows = rowsOf(table);
    var index = 1;
    rows.forEach(function (row) {
      if (row.hasAttribute("aria-rowindex")) {
        index = parseInt(row.getAttribute("aria-rowindex"), 10);
      } else {
        row.setAttribute("aria-rowindex", String(index));  // a row swapped in after an edit
      }
      index += 1;
      itemsOf(row).forEach(function (item) {
        if (item && !item.hasAttribute("data-roving")) {
          item.dataset.roving = "";
          item.tabIndex = -1;
        }
      });
    });
    var current = table.querySelector("[data-roving][tabindex='0']");
    if (!current) {
      current = find(table, remembered);
    }
    if (!current && rows.length > 1) {
      var column = table.querySelector("thead th[data-current]");
      var first = itemsOf(rows[1]);
      current = (column && find(table, { enrollment: rows[1].id.slice(4), session: column.dataset.session })) ||
        first[1] || first[0];
    }
    if (current) { activate(table, current, false); }
  }

  function scrollToCurrent(table) {
    var column = table.querySelector("thead th[data-current]");
    var scroller = table.closest(".grid-scroll");
    if (!column || !scroller) { return; }
    var right = column.offsetLeft + column.offsetWidth * 3;  // the current session and two after it
    if (right > scroller.clientWidth) {
      scroller.scrollLeft = Math.min(right - scroller.clientWidth, scroller.scrollWidth - scroller.clientWidth);
    }
  }

  function pageRows(table) {
    var scroller = table.closest(".grid-scroll");
    var row = bodyRows(table)[0];
    if (!scroller || !row) { return 10; }
    return Math.max(1, Math.floor(scroller.clientHeight / row.offsetHeight) - 2);
  }

  document.addEventListener("keydown", function (event) {
    var table = gridTable();
    if (!table) { return; }
    if (event.key === "Escape") {
      var panel = document.getElementById("cell-panel");
      if (!panel || !panel.closest("#cell-detail")) { return; }
      var close = panel.querySelector("header a[hx-get]");
      if (close) { close.click(); }
      var back = find(table, remembered);
      if (back) { activate(table, back, true); }
      event.preventDefault();
      return;
    }
    var item = event.target;
    if (!item.hasAttribute || !item.hasAttribute("data-roving") || !table.contains(item)) { return; }
    var rows = rowsOf(table);
    var r = rows.indexOf(item.closest("tr"));
    var c = itemsOf(rows[r]).indexOf(item);
    if (r < 0 || c < 0) { return; }
    switch (event.key) {
      case "ArrowRight": c += 1; break;
      case "ArrowLeft": c -= 1; break;
      case "ArrowDown": r += 1; break;
      case "ArrowUp": r -= 1; break;
      case "PageDown": r += pageRows(table); break;
      case "PageUp": r -= pageRows(table); break;
      case "Home": c = 0; if (event.ctrlKey) { r = Math.min(1, rows.length - 1); } break;
      case "End": c = Infinity; if (event.ctrlKey) { r = rows.length - 1; } break;
      default: return;
    }
    event.preventDefault();
    // A screenful up stops at the first student; the header row is one ArrowUp further.
    var top = event.key === "PageUp" && rows.indexOf(item.closest("tr")) > 0 ? 1 : 0;
    r = Math.max(top, Math.min(r, rows.length - 1));
    var items = itemsOf(rows[r]);
    var target = items[Math.max(0, Math.min(c, items.length - 1))];
    if (target) { activate(table, target, true); }
  });

  // A click (or Enter) on a cell opens its panel in #cell-detail; that cell is where Escape returns
  // and Tab re-enters. One listener for every cell: htmx-boosting each of the grid's links cost
  // the page a long task of its own at load (docs/decisions.md, "The big grid").
  document.addEventListener("click", function (event) {
    var table = gridTable();
    var item = event.target.closest && event.target.closest("[data-roving]");
    if (!table || !item || !table.contains(item)) { return; }
    activate(table, item, false);
    var plain = event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
    if (plain && !event.defaultPrevented && item.closest("td[data-session]") && window.htmx) {
      event.preventDefault();
      window.htmx.ajax("GET", item.getAttribute("href"), { source: item, target: "#cell-detail", swap: "innerHTML" });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var table = gridTable();
    if (!table) { return; }
    shown = table;
    prepare(table);
    window.requestAnimationFrame(function () { scrollToCurrent(table); });
  });

  // A row that comes again on a later page (the order moved since the page before it: an edit
  // changed the student's risk or completion) replaces its earlier copy: the later one is fresh
  // and stands where the order puts it now.
  function dropRepeatedRows(table) {
    var seen = {};
    var rows = bodyRows(table);
    for (var i = rows.length - 1; i >= 0; i--) {
      if (seen[rows[i].id]) { rows[i].parentNode.removeChild(rows[i]); } else { seen[rows[i].id] = true; }
    }
  }

  document.addEventListener("htmx:afterSettle", function () {
    var table = gridTable();
    if (!table) { return; }
    var whole = table !== shown;
    shown = table;
    if (whole) { remembered = null; }
    dropRepeatedRows(table);
    prepare(table);
    if (whole) { scrollToCurrent(table); }
  });
})();

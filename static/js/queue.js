// The queue page (templates/workflow/queue.html): "j" and "k" move the focus to the next and previous row (its
// tracking number link, so Enter opens the request), "c" claims the next request (the Claim next form), and the
// header tick box selects every row on the page for the supervisor's bulk reassign, with the count beside it.
// Loaded after shortcuts.js (both deferred, in document order).
(function () {
  "use strict";

  // On a phone the filters start folded under their summary, so the first requests are on the first screen.
  var filters = document.querySelector("details[data-closed-on-phone]");
  if (filters && window.matchMedia("(max-width: 640px)").matches) filters.removeAttribute("open");

  var typing = (window.roiShortcuts && window.roiShortcuts.typing) || function () { return false; };

  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("table[data-queue-table] td.tracking a"));
  }

  function moveFocus(step) {
    var links = rowLinks();
    if (!links.length) return;
    var current = links.indexOf(document.activeElement);
    var next = current === -1 ? (step > 0 ? 0 : links.length - 1) : Math.min(Math.max(current + step, 0), links.length - 1);
    links[next].focus();
    links[next].closest("tr").scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      moveFocus(event.key === "j" ? 1 : -1);
    } else if (event.key === "c") {
      var claim = document.querySelector("form[data-claim-next]");
      if (claim) {
        event.preventDefault();
        if (claim.requestSubmit) claim.requestSubmit(); else claim.submit();
      }
    }
  });

  function updateCount() {
    var counter = document.querySelector("[data-selected-count]");
    if (!counter) return;
    var boxes = document.querySelectorAll("input[type=checkbox][name=requests][form=bulk-assign]");
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) ticked += 1; });
    counter.textContent = ticked + " selected";
    var all = document.querySelector("input[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  }

  // <input data-select-all="requests">: ticks or clears every row's box on the page.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches) return;
    if (box.matches("input[data-select-all]")) {
      document.querySelectorAll("input[type=checkbox][name=requests][form=bulk-assign]").forEach(function (row) {
        row.checked = box.checked;
      });
      updateCount();
    } else if (box.matches("input[type=checkbox][name=requests]")) {
      updateCount();
    }
  });
  // The filters swap the table in with htmx: a new page starts with nothing ticked.
  document.body.addEventListener("htmx:afterSwap", updateCount);
})();

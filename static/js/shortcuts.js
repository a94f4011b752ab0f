// Keyboard shortcuts of every staff page: "/" focuses the header search (#site-search), "?" shows the shortcuts
// (the <dialog id="shortcuts-help"> of base.html). static/js/queue.js adds the queue's own keys. A key typed into a
// field, or pressed with Ctrl, Alt or Meta, is left to the browser.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable]:not([contenteditable='false'])"));
  }

  function showHelp() {
    var help = document.getElementById("shortcuts-help");
    if (help && !help.open && help.showModal) help.showModal();
  }

  window.roiShortcuts = { typing: typing };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "/") {
      var search = document.getElementById("site-search");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    } else if (event.key === "?") {
      event.preventDefault();
      showHelp();
    }
  });

  // <button data-shortcuts-help>: the same dialog for those who look for it with the mouse.
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-help]")) showHelp();
  });
})();

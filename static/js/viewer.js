// The document viewer (templates/workflow/_viewer.html): page thumbnails in a strip, one page large, zoom, fit,
// rotate (the view only) and the arrow keys. Pages are drawn by the server (docs/decisions/0007); this file only
// chooses which image to show and how big. No inline script or style: sizes are set through the CSSOM, which the
// content security policy allows. Loaded by each template that holds a viewer; a viewer swapped in by htmx is set
// up when it arrives.
(function () {
  "use strict";
  if (window.roiViewer) return;  // the checklist and the QC pane may both load this file
  window.roiViewer = true;

  var ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];  // times the width that fits

  function setUp(root) {
    if (root.hasAttribute("data-viewer-ready")) return;
    root.setAttribute("data-viewer-ready", "");
    var thumbs = Array.prototype.slice.call(root.querySelectorAll(".viewer-thumb"));
    var stage = root.querySelector("[data-viewer-stage]");
    var canvas = root.querySelector("[data-viewer-canvas]");
    var image = root.querySelector("[data-viewer-image]");
    var current = root.querySelector("[data-viewer-current]");
    var zoomLabel = root.querySelector("[data-viewer-zoom]");
    var marks = root.querySelector("[data-viewer-marks]");
    var expired = root.querySelector("[data-viewer-expired]");
    var prev = root.querySelector("[data-viewer-prev]");
    var next = root.querySelector("[data-viewer-next]");
    if (!thumbs.length || !image) return;
    var state = { page: 1, zoom: null, rotation: 0 };
    thumbs.forEach(function (thumb) {
      if (thumb.classList.contains("is-current")) state.page = Number(thumb.getAttribute("data-page"));
    });

    function layout() {
      if (!image.naturalWidth) return;
      var turned = state.rotation % 180 !== 0;
      var naturalW = turned ? image.naturalHeight : image.naturalWidth;
      var naturalH = turned ? image.naturalWidth : image.naturalHeight;
      var style = window.getComputedStyle(stage);
      var padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
      var room = Math.max(stage.clientWidth - padding - 2, 100);
      var scale = (room / naturalW) * (state.zoom || 1);
      var boxW = Math.round(naturalW * scale), boxH = Math.round(naturalH * scale);
      canvas.style.width = boxW + "px";
      canvas.style.height = boxH + "px";
      image.style.width = Math.round(image.naturalWidth * scale) + "px";
      image.style.height = Math.round(image.naturalHeight * scale) + "px";
      image.style.transform = "translate(-50%, -50%) rotate(" + state.rotation + "deg)";
      zoomLabel.textContent = state.zoom === null ? "Fit" : Math.round(state.zoom * 100) + " %";
    }

    function show(number) {
      number = Math.min(Math.max(number, 1), thumbs.length);
      var thumb = thumbs[number - 1];
      state.page = number;
      thumbs.forEach(function (other) {
        var on = other === thumb;
        other.classList.toggle("is-current", on);
        if (on) other.setAttribute("aria-current", "page"); else other.removeAttribute("aria-current");
      });
      if (image.getAttribute("src") !== thumb.getAttribute("data-src")) {
        image.setAttribute("src", thumb.getAttribute("data-src"));
      }
      image.setAttribute("alt", "Page " + number + " of " + thumbs.length);
      var excluded = thumb.getAttribute("data-excluded");
      var categories = thumb.getAttribute("data-categories");
      image.classList.toggle("is-excluded", !!excluded);
      marks.textContent = "";
      if (excluded) marks.appendChild(mark("viewer-mark viewer-mark-excluded", "Excluded from the release: " + excluded));
      if (categories) marks.appendChild(mark("viewer-mark viewer-mark-category", "Sensitive: " + categories));
      current.textContent = String(number);
      setEnabled(prev, number > 1);
      setEnabled(next, number < thumbs.length);
      thumb.scrollIntoView({ block: "nearest", inline: "nearest" });
      stage.scrollTop = 0;
    }

    function mark(className, text) {
      var p = document.createElement("p");
      p.className = className;
      p.textContent = text;
      return p;
    }

    function setEnabled(control, on) {
      if (on) control.removeAttribute("aria-disabled"); else control.setAttribute("aria-disabled", "true");
    }

    function zoomBy(step) {
      var now = state.zoom === null ? 1 : state.zoom;
      var index = ZOOMS.indexOf(now);
      if (index < 0) index = ZOOMS.indexOf(1);
      state.zoom = ZOOMS[Math.min(Math.max(index + step, 0), ZOOMS.length - 1)];
      layout();
    }

    image.addEventListener("load", function () {
      expired.hidden = true;
      layout();
    });
    image.addEventListener("error", function () { expired.hidden = false; });
    window.addEventListener("resize", layout);

    root.addEventListener("click", function (event) {
      var target = event.target.closest("a, button");
      if (!target || !root.contains(target)) return;
      if (target.classList.contains("viewer-thumb")) {
        event.preventDefault();
        show(Number(target.getAttribute("data-page")));
      } else if (target === prev || target === next) {
        event.preventDefault();
        if (target.getAttribute("aria-disabled") !== "true") show(state.page + (target === prev ? -1 : 1));
      } else if (target.hasAttribute("data-viewer-zoom-in")) {
        zoomBy(1);
      } else if (target.hasAttribute("data-viewer-zoom-out")) {
        zoomBy(-1);
      } else if (target.hasAttribute("data-viewer-fit")) {
        state.zoom = null;
        layout();
      } else if (target.hasAttribute("data-viewer-rotate")) {
        state.rotation = (state.rotation + 90) % 360;
        layout();
      }
    });

    // Arrow keys page through while focus is in the viewer (not in a form field of the page around it).
    root.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var keys = { ArrowLeft: -1, ArrowUp: -1, PageUp: -1, ArrowRight: 1, ArrowDown: 1, PageDown: 1 };
      if (event.key in keys) {
        event.preventDefault();
        show(state.page + keys[event.key]);
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        show(event.key === "Home" ? 1 : thumbs.length);
      } else if (event.key === "+" || event.key === "=") {
        zoomBy(1);
      } else if (event.key === "-") {
        zoomBy(-1);
      }
    });

    show(state.page);
    if (image.complete) layout();
  }

  function setUpAll(scope) {
    var roots = (scope || document).querySelectorAll("[data-viewer]");
    Array.prototype.forEach.call(roots, setUp);
    if (scope && scope.matches && scope.matches("[data-viewer]")) setUp(scope);
  }

  // The document list beside a viewer pane: the chosen document is marked as the one shown.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-viewer-document]");
    if (!link) return;
    var list = link.closest("ul");
    Array.prototype.forEach.call(list.querySelectorAll("[data-viewer-document]"), function (other) {
      if (other === link) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
    });
  });

  document.addEventListener("htmx:load", function (event) { setUpAll(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  } else {
    setUpAll(document);
  }
})();

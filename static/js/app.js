// Behaviour of the staff pages. The content security policy (roi/settings.py) allows no inline script or event
// handler attribute, so templates mark elements with data- attributes and this file, loaded by base.html, acts on them.
(function () {
  "use strict";

  // htmx swaps only 2xx answers by default: a form of the request page that fails comes back as 400 (or 403, 409)
  // with its errors, and that page must replace the one the form was on.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "40[0139]", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  // <select data-submit-on-change>: choosing an option submits its form (the organisation switch in the top bar).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-submit-on-change]") && select.form) {
      select.form.submit();
    }
  });

  // <form data-confirm="question">: the browser asks the question first; Cancel keeps the form from being sent. In the
  // capture phase, so that the question also comes before htmx sends a form of the request page.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // New-request form: Enter in the patient or requestor search box runs that search instead of submitting the
  // whole form.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.closest) return;
    var box = event.target.closest("#patient-search, #requestor-search");
    if (!box || event.target.tagName !== "INPUT") return;
    event.preventDefault();
    box.querySelector("button").click();
  });

  // The request page (templates/workflow/detail.html, [data-workspace]). Its forms post as usual and the server
  // redirects back (POST-redirect-GET); htmx sends them in the background and swaps the page it answers, so an action
  // costs no full page load and a refresh never posts again (the address stays the request's). A form with its own
  // hx-post (retrieval) keeps its own target.
  function boostForms(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("[data-workspace] form:not([hx-post]):not([data-no-boost])") : [];
    if (root.matches && root.matches("[data-workspace] form:not([hx-post])")) forms = [root];
    Array.prototype.forEach.call(forms, function (form) {
      if (form.hasAttribute("hx-boost")) return;
      form.setAttribute("hx-boost", "true");
      form.setAttribute("hx-target", "body");
      form.setAttribute("hx-swap", "innerHTML show:window:top");
      form.setAttribute("hx-push-url", "false");
      if (window.htmx) window.htmx.process(form);
    });
  }

  // Panels (<details data-panel>) load when opened; the ones this browser opened on this request open again on its
  // next visit (the session's storage, per request page).
  function panelKey() { return "roi:open-panels:" + window.location.pathname; }
  function openPanelNames() {
    try { return JSON.parse(window.sessionStorage.getItem(panelKey()) || "[]"); } catch (e) { return []; }
  }
  function reopenPanels(root) {
    var names = openPanelNames();
    var panels = root.querySelectorAll ? root.querySelectorAll("details[data-panel]") : [];
    Array.prototype.forEach.call(panels, function (panel) {
      if (!panel.open && names.indexOf(panel.getAttribute("data-panel")) >= 0) panel.open = true;
    });
  }
  document.addEventListener("toggle", function (event) {
    var panel = event.target;
    if (!panel.matches || !panel.matches("details[data-panel]") || !panel.id) return;
    var name = panel.getAttribute("data-panel");
    var names = openPanelNames().filter(function (n) { return n !== name; });
    if (panel.open && !panel.hasAttribute("data-starts-open")) names.push(name);
    try { window.sessionStorage.setItem(panelKey(), JSON.stringify(names)); } catch (e) { /* private mode */ }
  }, true);

  // The next-step button names a panel: open it (which loads it) and scroll to the part that needs the work.
  function scrollToWhenLoaded(panel, targetId) {
    var show = function () {
      var target = document.getElementById(targetId) || panel;
      target.scrollIntoView({ block: "start" });
      var focusable = target.querySelector && target.querySelector("input:not([type=hidden]), select, textarea, button");
      if (focusable) focusable.focus({ preventScroll: true });
    };
    if (panel.querySelector(".panel-loading")) {
      panel.addEventListener("htmx:afterSettle", function once() {
        panel.removeEventListener("htmx:afterSettle", once);
        show();
      });
    } else {
      show();
    }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-open-panel]");
    if (!link) return;
    var panel = document.getElementById("panel-" + link.getAttribute("data-open-panel"));
    if (!panel) return;
    event.preventDefault();
    if (!panel.open) panel.open = true;
    scrollToWhenLoaded(panel, link.getAttribute("data-scroll-to") || panel.id);
  });

  // <button data-check-all="class">: ticks every checkbox of its form inside elements of that class (QC's checks, once
  // the reviewer has looked at each; an unticked one still fails the packet).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-check-all]");
    if (!button || !button.form) return;
    var boxes = button.form.querySelectorAll("." + button.getAttribute("data-check-all") + " input[type=checkbox]");
    Array.prototype.forEach.call(boxes, function (box) { box.checked = true; });
  });

  document.addEventListener("htmx:load", function (event) {
    boostForms(event.target);
    reopenPanels(event.target);
  });
})();

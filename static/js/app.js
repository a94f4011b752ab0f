// Behaviour of the staff pages. The content security policy (roi/settings.py) allows no inline script or event
// handler attribute, so templates mark elements with data- attributes and this file, loaded by base.html, acts on them.
(function () {
  "use strict";

  // <select data-submit-on-change>: choosing an option submits its form (the organisation switch in the top bar).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-submit-on-change]") && select.form) {
      select.form.submit();
    }
  });

  // <form data-confirm="question">: the browser asks the question first; Cancel keeps the form from being sent.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // New-request form: Enter in the patient or requestor search box runs that search instead of submitting the
  // whole form.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.closest) return;
    var box = event.target.closest("#patient-search, #requestor-search");
    if (!box || event.target.tagName !== "INPUT") return;
    event.preventDefault();
    box.querySelector("button").click();
  });
})();

// QC review page: small conveniences only; every decision is made and checked by the server.
(function () {
  "use strict";
  const raise = document.getElementById("raise-form");
  // "Raise a query about this series": pick the series in the query form and go there.
  document.querySelectorAll("button.ask-site").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!raise) return;
      const select = raise.querySelector("select[name='q-series']");
      if (select) select.value = button.dataset.series;
      const reason = button.form.querySelector("textarea[name$='-comment']");
      const message = raise.querySelector("textarea[name='q-message']");
      if (message && reason && reason.value && !message.value) message.value = reason.value;
      raise.scrollIntoView({ behavior: "smooth", block: "start" });
      if (message) message.focus();
    });
  });
  // A failed series needs a comment: say so before the round trip.
  document.querySelectorAll("form.decide-form").forEach(function (form) {
    const comment = form.querySelector("textarea[name$='-comment']");
    form.querySelectorAll("input[type=radio][name$='-status']").forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (comment) comment.required = radio.checked && radio.value === "failed";
      });
    });
  });
})();

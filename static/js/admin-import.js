// CSV import: refuse files over the size limit before uploading them, and show a busy state while the server works.
(function () {
  "use strict";
  document.querySelectorAll("form.js-busy-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var max = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
      var input = form.querySelector("input[type=file]");
      var message = form.querySelector(".js-client-error");
      if (message) { message.hidden = true; message.textContent = ""; }
      if (max && input && input.files && input.files.length && input.files[0].size > max) {
        event.preventDefault();
        if (message) {
          message.textContent = form.getAttribute("data-too-large");
          message.hidden = false;
        }
        return;
      }
      if (form.getAttribute("data-busy") === "1") {
        event.preventDefault();  // a second click would only queue a second upload or import
        return;
      }
      form.setAttribute("data-busy", "1");
      var busy = form.querySelector(".import-busy");
      if (busy) { busy.hidden = false; }
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
      });
    });
  });
})();

/* Request page enhancement: a new visit length swaps in the free slots in place (the page works without it).
   The slots come from the server's own rendering of the page for that length (the slot_picker macro), so the
   markup and the labels (the repeated autumn hour says "Sommerzeit"/"Winterzeit") exist once. */
(function () {
  "use strict";
  var filter = document.querySelector("[data-sched-filter]");
  var box = document.querySelector("[data-sched-slots]");
  if (!filter || !box || !window.fetch || !window.URLSearchParams || !window.DOMParser || !window.FormData) { return; }
  var select = filter.querySelector("select[name=duration]");
  var minutes = box.querySelector("[data-sched-minutes]");
  var hidden = document.querySelector("form.sched-request input[name=duration]");
  if (!select || !box.querySelector("[data-sched-days]") || !hidden) { return; }

  function withDuration(href, duration) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("duration", duration);
    return url.pathname + url.search;
  }

  function swapIn(page) {
    var days = page.querySelector("[data-sched-slots] [data-sched-days]");
    if (!days) { throw new Error("no slots in the answer"); }
    var list = box.querySelector("[data-sched-days]");
    list.replaceWith(document.importNode(days, true));
    var label = page.querySelector("[data-sched-slots] [data-sched-minutes]");
    if (minutes && label) { minutes.textContent = label.textContent; }
  }

  select.addEventListener("change", function () {
    var duration = select.value;
    var params = new URLSearchParams(new FormData(filter));
    box.classList.add("sched-loading");
    fetch(filter.getAttribute("action") + "?" + params.toString(), { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        swapIn(new DOMParser().parseFromString(text, "text/html"));
        hidden.value = duration;
        var form = hidden.form;
        form.setAttribute("action", withDuration(form.getAttribute("action"), duration));
        document.querySelectorAll(".sched-paging a").forEach(function (link) {
          link.setAttribute("href", withDuration(link.getAttribute("href"), duration));
        });
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", withDuration(window.location.href, duration));
        }
      })
      .catch(function () { filter.submit(); })  // the server renders the same page without script
      .then(function () { box.classList.remove("sched-loading"); });
  });
}());

/* Request page enhancement: a new visit length reloads the free slots from the JSON API in place (the page works without it). */
(function () {
  "use strict";
  var filter = document.querySelector("[data-sched-filter]");
  var box = document.querySelector("[data-sched-slots]");
  if (!filter || !box || !window.fetch || !window.URLSearchParams || !window.Intl) { return; }
  var select = filter.querySelector("select[name=duration]");
  var list = box.querySelector("[data-sched-days]");
  var minutes = box.querySelector("[data-sched-minutes]");
  var hidden = document.querySelector("form.sched-request input[name=duration]");
  if (!select || !list || !hidden) { return; }
  var lang = document.documentElement.lang || "de";
  var dayFormat = new Intl.DateTimeFormat(lang, {
    weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "Europe/Berlin"
  });
  var timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Berlin" });

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function render(slots) {
    list.textContent = "";
    if (!slots.length) {
      list.appendChild(element("p", "sched-empty", box.getAttribute("data-empty")));
      return;
    }
    var currentLabel = null;
    var group = null;
    slots.forEach(function (slot) {
      var start = new Date(slot.start);
      var label = dayFormat.format(start);
      if (label !== currentLabel) {
        currentLabel = label;
        var fieldset = element("fieldset", "sched-day");
        fieldset.appendChild(element("legend", null, label));
        group = element("div", "sched-day-slots");
        fieldset.appendChild(group);
        list.appendChild(fieldset);
      }
      var item = element("label", "sched-slot");
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "start";
      radio.value = slot.start;  // ISO 8601 with the Berlin offset, exactly what the server offers
      item.appendChild(radio);
      item.appendChild(document.createTextNode(" " + timeFormat.format(start) + " – " + timeFormat.format(new Date(slot.end))));
      group.appendChild(item);
    });
  }

  function withDuration(href, duration) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("duration", duration);
    return url.pathname + url.search;
  }

  select.addEventListener("change", function () {
    var duration = select.value;
    var params = new URLSearchParams();
    params.set("from", filter.elements["from"].value);
    params.set("days", box.getAttribute("data-days"));
    params.set("duration", duration);
    var near = (filter.elements["near"].value || "").trim();
    if (near) { params.set("near", near); }
    box.classList.add("sched-loading");
    fetch(box.getAttribute("data-api") + "?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        render(data.slots || []);
        hidden.value = duration;
        if (minutes) { minutes.textContent = select.options[select.selectedIndex].text; }
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

/* Listing form map: shows the listing's point; dragging the marker (or clicking the map) fills the coordinate inputs,
   and typed coordinates move the marker. Without JavaScript the coordinate inputs alone do the job. */
(function () {
  "use strict";

  var box = document.getElementById("listing-map");
  if (!box || typeof window.L === "undefined") { return; }
  var L = window.L;
  var latInput = document.getElementById(box.getAttribute("data-lat-input") || "");
  var lonInput = document.getElementById(box.getAttribute("data-lon-input") || "");
  var readonly = box.getAttribute("data-readonly") === "1" || !latInput || !lonInput ||
    latInput.tagName !== "INPUT" || lonInput.tagName !== "INPUT";
  var DECIMALS = 6; // about 10 cm: more than a dragged marker can mean

  function parseNumber(text) {
    var value = String(text || "").trim().replace(",", ".");
    if (value === "") { return null; }
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  function readPoint(latText, lonText) {
    var lat = parseNumber(latText);
    var lon = parseNumber(lonText);
    if (lat === null || lon === null || lat < -90 || lat > 90 || lon < -180 || lon > 180) { return null; }
    return L.latLng(lat, lon);
  }

  function inputPoint() {
    if (latInput && lonInput) {
      if (latInput.tagName === "INPUT") { return readPoint(latInput.value, lonInput.value); }
      return readPoint(latInput.textContent, lonInput.textContent);
    }
    return null;
  }

  box.hidden = false;
  var hint = document.querySelector(".map-hint");
  if (hint && !readonly) { hint.hidden = false; }

  var map = L.map(box, {maxZoom: 19, scrollWheelZoom: false});
  var tiles = box.getAttribute("data-tiles");
  if (tiles) {
    // The attribution is the deployment's configured (trusted) HTML, as on the public map.
    L.tileLayer(tiles, {maxZoom: 19, attribution: box.getAttribute("data-attribution") || ""}).addTo(map);
  }

  var start = inputPoint();
  if (start) {
    map.setView(start, 14);
  } else {
    map.setView([Number(box.getAttribute("data-center-lat")) || 51.45,
                 Number(box.getAttribute("data-center-lon")) || 7.65],
                Number(box.getAttribute("data-zoom")) || 9);
  }

  var marker = null;
  var title = box.getAttribute("data-marker-title") || "";

  function write(latlng) {
    var point = latlng.wrap();
    latInput.value = point.lat.toFixed(DECIMALS);
    lonInput.value = point.lng.toFixed(DECIMALS);
    latInput.dispatchEvent(new Event("input", {bubbles: true}));
    lonInput.dispatchEvent(new Event("input", {bubbles: true}));
  }

  function place(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
      return;
    }
    marker = L.marker(latlng, {draggable: !readonly, keyboard: true, title: title, alt: title,
                               autoPan: true});
    if (!readonly) {
      marker.on("drag", function () { write(marker.getLatLng()); });
      marker.on("dragend", function () { write(marker.getLatLng()); });
    }
    marker.addTo(map);
  }

  if (start) { place(start); }

  if (!readonly) {
    map.on("click", function (event) {
      place(event.latlng);
      write(event.latlng);
    });
    var follow = function () {
      var point = inputPoint();
      if (point) {
        place(point);
        map.panTo(point);
      }
    };
    latInput.addEventListener("change", follow);
    lonInput.addEventListener("change", follow);
  }
})();

/* Wall screens and ?kiosk=1: kiosk class, a clock that ticks in the browser, a lost-connection banner that clears itself, and the SVG map and chart. */
(function () {
  "use strict";
  var POLL_MS = 5000;          // how often a wall checks the server is there
  var RETRY_MS = 2000;         // while lost, check more often so recovery shows quickly
  var TIMEOUT_MS = 4000;       // a hung server counts as lost, not as "still loading"
  var ZONE = "Asia/Ho_Chi_Minh";
  var lostSince = null;

  function isWall() {
    return location.pathname.indexOf("/wall") !== -1 || /[?&]kiosk=(1|true|yes)\b/.test(location.search);
  }
  function isEnglish() {
    return /[?&]lang=en/.test(location.search);
  }
  function prefix() {
    // Dash's own config names the path the app is mounted under (same as its callbacks use).
    try {
      var config = JSON.parse(document.getElementById("_dash-config").textContent);
      return config.requests_pathname_prefix || "/";
    } catch (error) {
      return "/";
    }
  }
  function timeText(date, seconds) {
    var options = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: ZONE };
    if (seconds) options.second = "2-digit";
    return date.toLocaleTimeString(isEnglish() ? "en-GB" : "vi-VN", options);
  }
  function dateText(date) {
    var options = { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric", timeZone: ZONE };
    return date.toLocaleDateString(isEnglish() ? "en-GB" : "vi-VN", options);
  }

  function markKiosk() {
    document.documentElement.classList.toggle("kiosk", isWall());
  }

  function tickClock() {
    var now = new Date();
    var clocks = document.querySelectorAll(".wall-clock");
    for (var i = 0; i < clocks.length; i++) {
      var time = timeText(now, true);
      var day = dateText(now);
      if (clocks[i].getAttribute("data-time") !== time) {
        clocks[i].setAttribute("data-time", time);
        clocks[i].innerHTML = "";
        var big = document.createElement("span");
        big.className = "wall-clock-time";
        big.textContent = time;
        var small = document.createElement("span");
        small.className = "wall-clock-date";
        small.textContent = day;
        clocks[i].appendChild(big);
        clocks[i].appendChild(small);
      }
    }
  }

  function banner() {
    var element = document.getElementById("wall-offline");
    if (!element) {
      element = document.createElement("div");
      element.id = "wall-offline";
      element.className = "wall-offline";
      element.setAttribute("role", "alert");
      element.hidden = true;
      document.body.appendChild(element);
    }
    return element;
  }
  function showLost() {
    var element = banner();
    var since = timeText(lostSince, false);
    element.textContent = "⚠ " + (isEnglish() ? "Connection lost since " + since : "Mất kết nối từ " + since);
    element.hidden = false;
    document.documentElement.classList.add("wall-disconnected");
  }
  function showBack() {
    var element = document.getElementById("wall-offline");
    if (element) element.hidden = true;
    document.documentElement.classList.remove("wall-disconnected");
  }

  function check() {
    markKiosk();
    if (!isWall()) {
      lostSince = null;
      showBack();
      setTimeout(check, POLL_MS);
      return;
    }
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    fetch(prefix() + "api/version", { cache: "no-store", signal: controller ? controller.signal : undefined })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        lostSince = null;
        showBack();
      })
      .catch(function () {
        // The figures on screen stay as they are; only the banner says how old they may be.
        if (!lostSince) lostSince = new Date();
        showLost();
      })
      .then(function () {
        clearTimeout(timer);
        setTimeout(check, lostSince ? RETRY_MS : POLL_MS);
      });
  }

  // The map and the flow chart are SVG built here from element trees the server sends (layouts/wall_svg.py),
  // so a wall never loads plotly.js. Text goes in with textContent and only SVG drawing tags and plain
  // attributes are accepted: nothing the server sends is ever parsed as markup.
  var SVG_NS = "http://www.w3.org/2000/svg";
  var SVG_TAGS = { svg: 1, g: 1, path: 1, rect: 1, line: 1, polyline: 1, text: 1, tspan: 1, title: 1 };
  function buildSvg(spec) {
    if (!spec || !SVG_TAGS[spec.tag]) return null;
    var element = document.createElementNS(SVG_NS, spec.tag);
    var attrs = spec.attrs || {};
    for (var name in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, name) && !/^on|href$|^style$/i.test(name)) {
        element.setAttribute(name, String(attrs[name]));
      }
    }
    if (spec.text !== undefined && spec.text !== null) element.textContent = String(spec.text);
    var children = spec.children || [];
    for (var i = 0; i < children.length; i++) {
      var child = buildSvg(children[i]);
      if (child) element.appendChild(child);
    }
    return element;
  }
  function paintMap(svg, paint) {
    // Only colours and icons change on a refresh: attributes set in place, so nothing flickers.
    var fills = (paint && paint.fills) || {};
    var icons = (paint && paint.icons) || {};
    var units = svg.querySelectorAll("path[data-unit-code]");
    for (var i = 0; i < units.length; i++) {
      var fill = fills[units[i].getAttribute("data-unit-code")];
      if (fill && units[i].getAttribute("fill") !== fill) units[i].setAttribute("fill", fill);
      if (fill) units[i].setAttribute("data-painted", "1");
    }
    var marks = svg.querySelectorAll("text[data-icon-for]");
    for (var j = 0; j < marks.length; j++) {
      var icon = icons[marks[j].getAttribute("data-icon-for")] || "";
      if (marks[j].textContent !== icon) marks[j].textContent = icon;
    }
  }
  function drawInto(target, tree, paint, tries) {
    var box = document.getElementById(target);
    if (!box) {
      // The box mounts with the page; a callback may run a frame before it is in the document.
      if ((tries || 0) < 120) requestAnimationFrame(function () { drawInto(target, tree, paint, (tries || 0) + 1); });
      return;
    }
    if (!tree || !tree.svg) return;
    var svg = box.querySelector(":scope > svg");
    if (!svg || svg.getAttribute("data-key") !== tree.key) {
      var next = buildSvg(tree.svg);
      next.setAttribute("data-key", tree.key);
      if (paint) paintMap(next, paint);  // painted before it is shown: no grey frame
      if (svg) box.replaceChild(next, svg);
      else box.appendChild(next);
    } else if (paint) {
      paintMap(svg, paint);
    }
  }
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.wall = {
    drawMap: function (shape, paint, target) {
      drawInto(target, shape, paint || {}, 0);
      return window.dash_clientside.no_update;
    },
    drawChart: function (chart, target) {
      drawInto(target, chart, null, 0);
      return window.dash_clientside.no_update;
    },
  };

  function start() {
    markKiosk();
    tickClock();
    setInterval(tickClock, 1000);
    setTimeout(check, POLL_MS);
    window.addEventListener("popstate", markKiosk);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* Wall screens and ?kiosk=1: kiosk class, a clock that ticks in the browser, and a lost-connection banner that clears itself. */
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

  // Plotly (4.6 MB) is normally asked for only once the first chart mounts; on a wall every screen has a
  // chart, so start the download while the page's own scripts load (about 0.5 s sooner on first paint).
  function preloadPlotly() {
    if (!isWall() || document.getElementById("wall-preload-plotly")) return;
    var link = document.createElement("link");
    link.id = "wall-preload-plotly";
    link.rel = "preload";
    link.as = "script";
    link.href = prefix() + "_dash-component-suites/plotly/package_data/plotly.min.js";
    document.head.appendChild(link);
  }
  preloadPlotly();

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

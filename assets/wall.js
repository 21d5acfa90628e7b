/* Wall screens and ?kiosk=1: kiosk class, a clock that ticks in the browser, a lost-connection banner that clears itself,
   the SVG map and chart, and a rotation that goes on through the slides already shown while the server is away. */
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
    // English spells the month (03/12 reads as March 12 to many English readers), as the server's texts do.
    var month = isEnglish() ? "short" : "2-digit";
    var options = { weekday: "long", day: isEnglish() ? "numeric" : "2-digit", month: month, year: "numeric", timeZone: ZONE };
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
  function sinceText(date) {
    // The time, and the day as well once the outage has crossed midnight (a TV may stay cut off for days).
    var locale = isEnglish() ? "en-GB" : "vi-VN";
    var shape = isEnglish() ? { day: "numeric", month: "short", timeZone: ZONE } : { day: "2-digit", month: "2-digit", timeZone: ZONE };
    var day = date.toLocaleDateString(locale, shape);
    var today = new Date().toLocaleDateString(locale, shape);
    return timeText(date, false) + (day === today ? "" : " " + day);
  }
  function showLost() {
    var element = banner();
    var since = sinceText(lostSince);
    element.textContent = "⚠ " + (isEnglish() ? "Connection lost since " + since : "Mất kết nối từ " + since);
    element.hidden = false;
    document.documentElement.classList.add("wall-disconnected");
  }
  function showBack() {
    var element = document.getElementById("wall-offline");
    if (element) element.hidden = true;
    document.documentElement.classList.remove("wall-disconnected");
  }

  // When this browser last heard from the server, kept across reloads: a wall loaded from its offline copy
  // says since when it lost contact, not since when it was reloaded.
  var CONTACT_KEY = "ioc-wall-last-contact";
  function noteContact() {
    try { localStorage.setItem(CONTACT_KEY, new Date().toISOString()); } catch (error) { /* storage refused */ }
  }
  function lastContact() {
    try {
      var text = localStorage.getItem(CONTACT_KEY);
      return text ? new Date(text) : null;
    } catch (error) {
      return null;
    }
  }

  // ``since``: when the server last answered, if known better than "now".
  function noteLost(since) {
    if (!isWall()) return;
    if (since && !isNaN(since.getTime()) && (!lostSince || since < lostSince)) lostSince = since;
    if (!lostSince) lostSince = new Date();
    showLost();
  }

  // -- offline copy (assets/wall-sw.js) ----------------------------------------------------------------------
  var SNAPSHOT_MS = 60000;     // the kept copy of a wall follows new data at most this often
  var WARM_DELAY_MS = 5000;    // how long after the page has loaded to register the worker (and fill its copy)
  var routerCall = null;       // Dash's page-router request of this page, to ask again for a fresh copy
  var showedKeptCopy = false;  // some of this page came from the kept copy (it was loaded while the server was away)
  var snapshotAt = Date.now();
  var snapshotVersion = null;

  function isWallPage() {
    return location.pathname.indexOf(prefix() + "wall/") === 0;
  }
  function routerInit(input, init) {
    // Dash's page-router request (its body names the page's path and query), marked for the service worker,
    // which keeps only the answers so marked; and remembered, to ask again for a fresh copy. Otherwise null.
    var url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.indexOf("_dash-update-component") === -1 || !init || typeof init.body !== "string") return null;
    if (init.body.indexOf("_pages_content.children") === -1 || !isWallPage()) return null;
    try {
      if (String(JSON.parse(init.body).output).indexOf("_pages_content.children") === -1) return null;
    } catch (error) {
      return null;  // not Dash's JSON: not ours to keep
    }
    var headers = new Headers(init.headers || {});
    headers.set("X-Wall-Router", "1");
    var marked = Object.assign({}, init, { headers: headers });
    routerCall = { url: url, init: marked };
    return marked;
  }
  function refreshCopy() {
    // Through the service worker, which keeps the answer: the wall as it is now, for a reload during an outage.
    snapshotAt = Date.now();
    if (!routerCall || !navigator.serviceWorker || !navigator.serviceWorker.controller) return Promise.resolve();
    return fetch(routerCall.url, routerCall.init).catch(function () {});
  }
  function warmCopy() {
    // This first load came before the worker took over: fetch again through it what the page loaded
    // (mostly from the HTTP cache), so a reload while the server is away finds it all.
    var base = location.origin + prefix();
    var urls = [location.href];
    (performance.getEntriesByType ? performance.getEntriesByType("resource") : []).forEach(function (entry) {
      var name = entry.name;
      if (name.indexOf(base) === 0 && /^(assets\/|_dash-component-suites\/|_dash-layout$|_dash-dependencies$|_favicon)/.test(name.slice(base.length))) {
        urls.push(name);
      }
    });
    var fetches = urls.map(function (url) { return fetch(url, { credentials: "same-origin" }).catch(function () {}); });
    fetches.push(refreshCopy());
    return Promise.all(fetches).then(markCopyReady);
  }
  function markCopyReady() {
    document.documentElement.setAttribute("data-wall-offline-copy", "ready");
  }
  function keepOfflineCopy() {
    // Service workers need a secure context (https, or localhost): elsewhere a wall simply has no offline copy.
    if (!isWallPage() || !window.isSecureContext || !("serviceWorker" in navigator)) return;
    var base = prefix();
    navigator.serviceWorker.register(base + "wall-sw.js", { scope: base + "wall/" }).then(function () {
      if (navigator.serviceWorker.controller) {
        setTimeout(markCopyReady, POLL_MS);  // this load went through the worker: it kept what passed
      } else {
        navigator.serviceWorker.addEventListener("controllerchange", warmCopy, { once: true });
      }
    }).catch(function () { /* no offline copy; the banner still works */ });
  }

  // Dash's own requests failing is the first sign of an outage: say so at once, not at the next check.
  if (typeof window.fetch === "function") {
    var nativeFetch = window.fetch;
    window.fetch = function (input, init) {
      var marked = routerInit(input, init);
      var call = marked ? nativeFetch.call(this, input, marked) : nativeFetch.apply(this, arguments);
      return call.then(function (response) {
        if (response.headers.get("X-Wall-Kept")) showedKeptCopy = true;
        return response;
      }, function (error) {
        noteLost();
        throw error;
      });
    };
  }

  function back(version) {
    if (lostSince && showedKeptCopy) {
      // Loaded from the kept copy: start afresh now the server is here (new code, callbacks that failed).
      location.reload();
      return;
    }
    lostSince = null;
    showBack();
    noteContact();
    if (snapshotVersion === null) snapshotVersion = version;
    if (version !== snapshotVersion && Date.now() - snapshotAt >= SNAPSHOT_MS) {
      snapshotVersion = version;
      refreshCopy();
    }
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
        return response.json().then(function (data) { back(data.data_version); });
      })
      .catch(function () {
        // The figures on screen stay as they are; only the banner says how old they may be. A page loaded from
        // the offline copy has not heard from the server at all: it was lost since the last contact.
        noteLost(showedKeptCopy ? lastContact() : null);
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
  // Rotation (/wall/rotate): every slide shown is kept here as the component tree it had when it left the
  // screen (its last figures), so that while the server is unreachable the rotation goes on through them.
  // Where the browser has the Cache API (a secure context), the slides the server sent are also stored per
  // playlist URL, so a wall reloaded during an outage still rotates through all of them.
  var SLIDES_CACHE = "ioc-wall-slides-v1";
  var keptSlides = {};
  var storedSlides = {};
  function canStoreSlides() {
    return window.isSecureContext && !!window.caches && location.pathname === prefix() + "wall/rotate";
  }
  function slideKey(path) {
    var page = location.pathname + location.search;
    return location.origin + prefix() + "wall/__slide?page=" + encodeURIComponent(page) + "&slide=" + encodeURIComponent(path);
  }
  function storeSlide(path, tree, playlist) {
    if (!canStoreSlides()) return;
    storedSlides[path] = true;
    var body = JSON.stringify(tree);
    var wanted = {};
    (playlist || []).forEach(function (slide) { wanted[slideKey(slide.path)] = true; });
    caches.open(SLIDES_CACHE).then(function (cache) {
      var put = cache.put(slideKey(path), new Response(body, { headers: { "Content-Type": "application/json" } }));
      if (!playlist) return put;
      // Slides that left this playlist (the worst units change) are dropped.
      var prefixKey = slideKey("");
      return put.then(function () { return cache.keys(); }).then(function (keys) {
        return Promise.all(keys.filter(function (key) {
          return key.url.indexOf(prefixKey) === 0 && !wanted[key.url];
        }).map(function (key) { return cache.delete(key); }));
      });
    }).catch(function () { /* storage full or refused: the in-memory copies still serve */ });
  }
  function loadStoredSlides() {
    if (!canStoreSlides()) return;
    var prefixKey = slideKey("");
    caches.open(SLIDES_CACHE).then(function (cache) {
      return cache.keys().then(function (keys) {
        return Promise.all(keys.filter(function (key) { return key.url.indexOf(prefixKey) === 0; }).map(function (key) {
          var path = decodeURIComponent(key.url.slice(prefixKey.length));
          return cache.match(key).then(function (response) { return response.json(); }).then(function (tree) {
            if (!keptSlides[path]) keptSlides[path] = tree;  // what this page has seen itself is newer
            storedSlides[path] = true;
          });
        }));
      });
    }).catch(function () {});
  }
  function keep(path, tree, playlist, fresh) {
    if (!path || !tree) return;
    keptSlides[path] = tree;
    if (fresh || !storedSlides[path]) storeSlide(path, tree, playlist);
  }
  function nextKept(state) {
    var slides = (state && state.slides) || [];
    for (var step = 1; step <= slides.length; step++) {
      var index = ((state.index || 0) + step) % slides.length;
      if (keptSlides[slides[index].path] && slides[index].path !== state.path) return index;
    }
    return -1;
  }
  function rotate(ticks, rendered, children, state) {
    var noUpdate = window.dash_clientside.no_update;
    var context = window.dash_clientside.callback_context || {};
    if (state) keep(state.path, children, null, false);
    var fromServer = (context.triggered || []).some(function (item) { return /\.data$/.test(item.prop_id); });
    if (fromServer && rendered) {
      if (rendered.state) keep(rendered.state.path, rendered.layout, rendered.state.slides, true);
      return [rendered.layout, rendered.seconds * 1000, rendered.disabled, rendered.state];
    }
    // A tick: online, the server's next slide is on its way (next_slide); offline, show the next one kept.
    var index = lostSince ? nextKept(state) : -1;
    if (index < 0) return [noUpdate, noUpdate, noUpdate, noUpdate];
    var slide = state.slides[index];
    return [keptSlides[slide.path], slide.seconds * 1000, false, { index: index, path: slide.path, slides: state.slides }];
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.wall = {
    rotate: rotate,
    drawMap: function (shape, paint, target) {
      drawInto(target, shape, paint || {}, 0);
      return window.dash_clientside.no_update;
    },
    drawChart: function (chart, target) {
      drawInto(target, chart, null, 0);
      return window.dash_clientside.no_update;
    },
  };

  // The alert strip names whole units: the last names that would be cut are hidden and counted in "+ N khác".
  // Only the browser knows the strip's width, so this runs after each render, font load and resize.
  function groupThousands(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, isEnglish() ? "," : ".");
  }
  function showMore(item) {
    var more = item.querySelector(".alert-more");
    if (!more) return;
    var count = parseInt(more.getAttribute("data-omitted") || "0", 10) + item.querySelectorAll(".alert-name[hidden]").length;
    var text = (more.getAttribute("data-template") || "").replace("{n}", groupThousands(count));
    more.hidden = count === 0;
    if (more.textContent !== text) more.textContent = text;
  }
  function fitAlerts(strip) {
    if (!strip.clientWidth) return;  // not on screen (a slide not shown)
    var items = strip.querySelectorAll(".alert-item");
    var names = strip.querySelectorAll(".alert-name");
    for (var n = 0; n < names.length; n++) names[n].hidden = false;
    for (var i = 0; i < items.length; i++) showMore(items[i]);
    // One name at a time, measured again after each: the items share the strip, so one giving way helps the other.
    for (var guard = 0; guard < names.length; guard++) {
      var hid = false;
      for (var j = items.length - 1; j >= 0 && !hid; j--) {
        if (!overflows(items[j])) continue;
        var shown = items[j].querySelectorAll(".alert-name:not([hidden])");
        if (shown.length <= 1) continue;  // the first name stays, cut if it must be
        shown[shown.length - 1].hidden = true;
        showMore(items[j]);
        hid = true;
      }
      if (!hid) break;
    }
    // Both items shrank to share the strip, so hiding went further than needed: give names back, first item first.
    for (var k = 0; k < items.length; k++) {
      var back = items[k].querySelector(".alert-name[hidden]");
      while (back) {
        back.hidden = false;
        showMore(items[k]);
        if (anyOverflows(items)) {
          back.hidden = true;
          showMore(items[k]);
          break;
        }
        back = items[k].querySelector(".alert-name[hidden]");
      }
    }
  }
  function overflows(item) {
    return item.scrollWidth > item.clientWidth + 1;
  }
  function anyOverflows(items) {
    for (var i = 0; i < items.length; i++) if (overflows(items[i])) return true;
    return false;
  }
  var alertObserver = null;
  var fitQueued = false;
  function fitAllAlerts() {
    fitQueued = false;
    var strips = document.querySelectorAll(".alert-units");
    for (var i = 0; i < strips.length; i++) fitAlerts(strips[i]);
    if (alertObserver) alertObserver.takeRecords();  // the fit's own changes are no reason to fit again
  }
  function queueFit() {
    if (fitQueued) return;
    fitQueued = true;
    requestAnimationFrame(fitAllAlerts);
  }
  function touchesAlerts(records) {
    for (var i = 0; i < records.length; i++) {
      var node = records[i].target.nodeType === 1 ? records[i].target : records[i].target.parentNode;
      if (node && node.closest && (node.closest(".alert-units") || node.querySelector(".alert-units"))) return true;
    }
    return false;
  }
  function watchAlerts() {
    if (typeof MutationObserver === "function") {
      alertObserver = new MutationObserver(function (records) { if (touchesAlerts(records)) queueFit(); });
      alertObserver.observe(document.body, { childList: true, subtree: true, characterData: true });
    }
    window.addEventListener("resize", queueFit);
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(queueFit);
    if (document.fonts && document.fonts.addEventListener) document.fonts.addEventListener("loadingdone", queueFit);
    queueFit();
  }

  function start() {
    markKiosk();
    tickClock();
    setInterval(tickClock, 250);  // a new slide's clock shows within a quarter second
    watchAlerts();
    setTimeout(check, POLL_MS);
    loadStoredSlides();
    // The offline copy waits until the page has loaded: the first render keeps the network and the CPU to itself.
    if (document.readyState === "complete") setTimeout(keepOfflineCopy, WARM_DELAY_MS);
    else window.addEventListener("load", function () { setTimeout(keepOfflineCopy, WARM_DELAY_MS); }, { once: true });
    window.addEventListener("popstate", markKiosk);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

/* Service worker of the wall screens (/wall/…), served at the app root as wall-sw.js (ioc/web.py) and registered by
   wall.js with the scope <prefix>wall/, so it controls wall pages only. A TV that reloads during an outage (power cuts
   do that) gets the wall it last showed, with its figures and the offline banner, instead of the browser's error page.

   For wall pages only, network first, the copy kept for when the network fails:
   - GET: the wall page itself, its assets, Dash's component suites, _dash-layout and _dash-dependencies;
   - POST _dash-update-component for Dash's page router (the page's whole layout, figures included), which wall.js
     marks with the header X-Wall-Router; kept per wall path and query string under a made-up GET key (the Cache API
     keys on GETs).
   Every other request (the version polls, the other callbacks, /api/version, any non-wall page) is left alone: not
   answered here, never kept. A kept copy is answered with the header X-Wall-Kept, so the page knows it shows one. */
"use strict";

var CACHE = "ioc-wall-shell-v1";          // change the suffix when what is kept changes: older ones are deleted
var ROUTER_OUTPUT = "_pages_content.children";
var KEPT_PATHS = /^(assets\/|_dash-component-suites\/|_dash-layout$|_dash-dependencies$|_favicon\.ico$)/;

var scopePath = new URL(self.registration.scope).pathname;   // "<prefix>wall/"
var appPath = scopePath.replace(/wall\/$/, "");              // "<prefix>"

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("ioc-wall-shell-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function isWallPath(pathname) {
  return pathname.indexOf(scopePath) === 0;
}

function appRelative(url) {
  // The path below the app's prefix ("assets/wall.css"), or null for another origin or outside the app.
  if (url.origin !== self.location.origin || url.pathname.indexOf(appPath) !== 0) return null;
  return url.pathname.slice(appPath.length);
}

function pageKey(pathname, search) {
  return new Request(self.registration.scope + "__page?" + encodeURIComponent(pathname + (search || "")));
}

function unversioned(url) {
  // The same file whatever its version: Dash puts it in the name (dash_renderer.v2_18_2m1731.min.js, see
  // dash/fingerprint.py) and in ?m= for the assets folder.
  var parsed = new URL(url);
  var parts = parsed.pathname.split("/");
  var name = parts.pop().split(".");
  if (name.length > 2 && /^v[\w-]+m[0-9a-fA-F]+$/.test(name[1])) name.splice(1, 1);
  parts.push(name.join("."));
  return parsed.origin + parts.join("/");
}

function dropOtherVersions(cache, key) {
  // An upgrade of the app or of Dash renames its scripts: without this the copy would keep every version ever served.
  var same = unversioned(key.url);
  return cache.keys().then(function (keys) {
    return Promise.all(keys.filter(function (other) {
      return other.url !== key.url && unversioned(other.url) === same;
    }).map(function (other) { return cache.delete(other); }));
  });
}

// Network first; a good answer is kept under ``key``; no answer at all gives the kept copy, or ``fallback``.
// ``versioned``: the key is a file of the app (an asset, a component suite) whose older versions are dropped.
function networkThenKept(request, key, fallback, versioned) {
  return fetch(request).then(function (response) {
    if (!response.ok) return response;
    var copy = response.clone();
    // Answered once kept, so that whatever the page does next (a reload) finds the copy.
    return caches.open(CACHE).then(function (cache) {
      return cache.put(key, copy).then(function () { return versioned ? dropOtherVersions(cache, key) : null; });
    }).then(function () {
      return response;
    }, function () {
      return response;  // a full disk loses the copy, never the answer
    });
  }, function (error) {
    return caches.match(key, { ignoreVary: true }).then(function (kept) {
      if (kept) return markedKept(kept);
      if (fallback) return fallback().then(function (other) { if (other) return markedKept(other); throw error; });
      throw error;
    });
  });
}

function markedKept(response) {
  // The kept copy, marked so that the page knows it is showing one (wall.js reloads once the server is back).
  var headers = new Headers(response.headers);
  headers.set("X-Wall-Kept", "1");
  headers.delete("Content-Encoding");  // the kept body is already decoded
  headers.delete("Content-Length");
  return response.blob().then(function (body) {
    return new Response(body, { status: response.status, statusText: response.statusText, headers: headers });
  });
}

function anyWallPage() {
  // Every wall page is the same Dash index page (it routes by its own URL), so any kept one boots a wall.
  return caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (keys) {
      var page = keys.filter(function (key) {
        var path = new URL(key.url).pathname;
        return isWallPath(path) && !/__page$/.test(path);  // a page, not a kept router answer
      })[0];
      return page ? cache.match(page, { ignoreVary: true }) : null;
    });
  });
}

function routerCall(request) {
  // Dash's page router for a wall page: keep its answer per path and query; anything else goes to the network as is.
  return request.clone().json().then(function (body) {
    var inputs = {};
    (body.inputs || []).forEach(function (input) { if (input && input.property) inputs[input.property] = input.value; });
    var isRouter = String(body.output || "").indexOf(ROUTER_OUTPUT) !== -1;
    if (!isRouter || typeof inputs.pathname !== "string" || !isWallPath(inputs.pathname)) return fetch(request);
    return networkThenKept(request, pageKey(inputs.pathname, inputs.search), null);
  }, function () {
    return fetch(request);
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  var relative = appRelative(url);
  if (relative === null) return;
  if (request.mode === "navigate") {
    if (request.method === "GET" && isWallPath(url.pathname)) event.respondWith(networkThenKept(request, request, anyWallPage));
    return;
  }
  var kept = request.method === "GET" && (KEPT_PATHS.test(relative) || isWallPath(url.pathname));
  var router = request.method === "POST" && relative === "_dash-update-component" && request.headers.get("X-Wall-Router") === "1";
  if (!kept && !router) return;  // the polls and everything else: straight to the network, as without a worker
  event.respondWith(
    self.clients.get(event.clientId).then(function (client) {
      // Only a wall page's own requests (a wall page could in principle navigate elsewhere in the app without a reload).
      if (!client || !isWallPath(new URL(client.url).pathname)) return fetch(request);
      return router ? routerCall(request) : networkThenKept(request, request, null, KEPT_PATHS.test(relative));
    })
  );
});

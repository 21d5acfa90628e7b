/* Wall screens: expose the screen size as a multiple of 1920×1080 CSS px, so Plotly charts (whose fonts are in px) scale like the text. */
(function () {
  function setWallScale() {
    // The smaller ratio, as wall.css's --u: a screen that is not 16:9 still shows everything.
    var scale = Math.max(0.5, Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
    document.documentElement.style.setProperty("--wall-scale", String(scale));
  }
  setWallScale();
  window.addEventListener("resize", setWallScale);
})();

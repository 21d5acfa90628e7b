/* Wall screens: expose the screen width as a multiple of 1920 CSS px, so Plotly charts (whose fonts are in px) scale like the vw text. */
(function () {
  function setWallScale() {
    var scale = Math.max(0.5, window.innerWidth / 1920);
    document.documentElement.style.setProperty("--wall-scale", String(scale));
  }
  setWallScale();
  window.addEventListener("resize", setWallScale);
})();

// Long work (rendering, signing and time-stamping take seconds): say so, and stop double
// submits. Used by the officer console and the merchant portal.
document.querySelectorAll("form[data-busy]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
    form.setAttribute("aria-busy", "true");
    var live = document.getElementById("busy");
    if (live) { live.textContent = form.dataset.busy; live.classList.remove("visually-hidden"); }
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
});

(function () {
  var box = document.getElementById("verify-report");
  if (!box) return;
  function set(mode) {
    box.setAttribute("data-mode", mode);
    if (document.documentElement.hasAttribute("data-lang")) {
      document.documentElement.setAttribute("data-lang", mode);
      document.documentElement.setAttribute("lang", mode === "en" ? "en" : "zh-CN");
    }
    box.querySelectorAll("[data-set-lang]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-set-lang") === mode ? "true" : "false");
    });
  }
  box.querySelectorAll("[data-set-lang]").forEach(function (b) {
    b.addEventListener("click", function () { set(b.getAttribute("data-set-lang")); });
  });
  set(box.getAttribute("data-mode"));
  window.addEventListener("beforeprint", function () { box.dataset.before = box.getAttribute("data-mode"); set("both"); });
  window.addEventListener("afterprint", function () { if (box.dataset.before) set(box.dataset.before); });
})();

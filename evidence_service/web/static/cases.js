// The case page: follow the captures queued from the case. Each badge shows its stage as it
// happens; when one is sealed (and so linked as evidence) or fails, the page reloads so the
// server renders the evidence list in full. Without JavaScript the page is current on reload.
(function () {
  var list = document.getElementById("pending");
  if (!list) return;
  var caseId = list.dataset.case;
  var known = {};
  list.querySelectorAll("[data-capture]").forEach(function (b) {
    known[b.dataset.capture] = b.className.replace(/.*\bs-(\w+).*/, "$1");
  });
  function tick() {
    fetch("/cases/" + encodeURIComponent(caseId) + "/captures.json",
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return setTimeout(tick, 3000);
        var still = {};
        var finished = false;
        data.pending.forEach(function (p) {
          still[p.capture_id] = true;
          var badge = list.querySelector('[data-capture="' + p.capture_id + '"]');
          var detail = list.querySelector('[data-detail="' + p.capture_id + '"]');
          if (badge && known[p.capture_id] !== p.status) {
            badge.className = "badge s-" + p.status;
            badge.textContent = p.status_text;
            if (p.status === "failed") finished = true;
            known[p.capture_id] = p.status;
          }
          if (detail) detail.textContent = p.detail || "";
        });
        Object.keys(known).forEach(function (id) { if (!still[id]) finished = true; });
        if (finished) { window.location.reload(); return; }
        var active = data.pending.some(function (p) { return p.status !== "failed"; });
        if (active) setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 800);
})();

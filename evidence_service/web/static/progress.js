// Poll the capture's JSON record and show each stage as it happens; reload when finished
// so the server renders the result (hashes, links) in full.
(function () {
  var box = document.getElementById("progress");
  if (!box) return;
  var id = box.dataset.id, last = box.dataset.status;
  var stages = ["queued", "loading", "sealing", "stored"];
  function show(rec) {
    var reached = stages.indexOf(rec.status);
    document.querySelectorAll(".stage").forEach(function (li) {
      var i = stages.indexOf(li.dataset.stage);
      li.classList.toggle("done", i < reached);
      li.classList.toggle("current", i === reached);
      if (i === reached) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
    var detail = document.getElementById("progress-detail");
    if (detail) detail.textContent = rec.progress_detail || "";
  }
  function tick() {
    fetch("/api/captures/" + id, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (rec) {
        if (!rec) return setTimeout(tick, 2000);
        if (rec.status !== last && (rec.status === "stored" || rec.status === "failed")) {
          window.location.reload();
          return;
        }
        if (rec.status !== last) {
          var badge = document.getElementById("status-badge");
          if (badge) { badge.className = "badge s-" + rec.status; badge.textContent = rec.status; }
          last = rec.status;
        }
        show(rec);
        setTimeout(tick, 700);
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 500);
})();

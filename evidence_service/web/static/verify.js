// Upload with a progress bar (large packages take a while), then show the report page the
// server renders. Without JavaScript the form posts normally. Messages come from the form's
// data attributes (the page's language); no inline script, so the CSP can forbid them.
(function () {
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  var form = document.getElementById("verify-form");
  var input = document.getElementById("verify-file");
  var drop = document.getElementById("drop");
  var box = document.getElementById("verify-progress");
  var bar = document.getElementById("verify-bar");
  var status = document.getElementById("verify-status");
  if (!form) return;
  var msgs = {
    uploading: form.dataset.msgUploading,
    verifying: form.dataset.msgVerifying,
    failed: form.dataset.msgFailed
  };
  ["dragenter", "dragover"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (ev) {
    drop.addEventListener(ev, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
  });
  form.addEventListener("submit", function (e) {
    if (!window.FormData || !window.XMLHttpRequest || !input.files.length) return;
    e.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    box.hidden = false;
    document.getElementById("verify-submit").disabled = true;
    xhr.upload.onprogress = function (ev) {
      if (!ev.lengthComputable) return;
      var pct = Math.floor(100 * ev.loaded / ev.total);
      bar.value = pct;
      status.textContent = msgs.uploading + " " + pct + "%";
    };
    xhr.upload.onload = function () { bar.removeAttribute("value"); status.textContent = msgs.verifying; };
    xhr.onload = function () {
      document.open();
      document.write(xhr.responseText);
      document.close();
    };
    xhr.onerror = function () {
      status.textContent = msgs.failed;
      document.getElementById("verify-submit").disabled = false;
    };
    xhr.send(new FormData(form));
  });
})();

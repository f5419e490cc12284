// The export page's progress bar: asks the portal for the job's status every second until it ends.
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box) { return; }
  var fill = document.getElementById("export-progress-fill");
  var bar = document.getElementById("export-progressbar");
  var label = document.getElementById("export-progress-label");
  var status = document.getElementById("export-status");
  var error = document.getElementById("export-error");
  var download = document.getElementById("export-download");
  var link = document.getElementById("export-download-link");
  var file = document.getElementById("export-file");

  function show(job) {
    fill.style.width = job.progress + "%";
    bar.setAttribute("aria-valuenow", String(job.progress));
    label.textContent = job.progress + "% · " + (job.progress_label || box.dataset.waiting);
    status.textContent = job.status_label;
    status.className = "export-badge export-" + job.status;
    box.dataset.status = job.status;
    error.textContent = job.error || "";
    error.hidden = !job.error;
    if (job.download_url) {
      link.href = job.download_url;
      file.textContent = job.file_name;
      download.hidden = false;
    }
  }

  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (job) { show(job); if (!job.finished) { window.setTimeout(poll, 1000); } })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  fill.style.width = (fill.dataset.progress || "0") + "%";
  if (["succeeded", "failed", "expired"].indexOf(box.dataset.status) === -1) { poll(); }
})();

// Live progress of a scan: asks the server every second, adds the new steps and findings, and opens the
// report when the scan is done. Text from the server is inserted as text, never as markup.
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  var id = box.getAttribute("data-job");
  function list(el, items, render) {
    while (el.firstChild) el.removeChild(el.firstChild);
    items.forEach(function (item) { var li = document.createElement("li"); render(li, item); el.appendChild(li); });
  }
  function tick() {
    fetch("/api/jobs/" + encodeURIComponent(id), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        document.getElementById("status").textContent = job.status;
        list(document.getElementById("steps"), job.steps, function (li, s) { li.textContent = s.text; });
        list(document.getElementById("findings"), job.findings, function (li, f) {
          var b = document.createElement("strong"); b.textContent = f.company || "";
          li.appendChild(b); li.appendChild(document.createTextNode(": " + f.summary));
        });
        if (job.error) { var e = document.getElementById("error"); e.textContent = job.error; e.hidden = false; }
        if (job.status === "done" && job.report) {
          var a = document.getElementById("report"); a.href = job.report; a.hidden = false;
          window.location.assign(job.report);
          return;
        }
        if (job.status !== "failed") setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  tick();
})();

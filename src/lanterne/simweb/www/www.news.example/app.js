// First-party code of the news site: reader preferences in storage and a live-comments WebSocket.
localStorage.setItem("reader_prefs", JSON.stringify({ theme: "light", font: "serif" }));
sessionStorage.setItem("visit_start", String(Date.now()));
(function () {
  var ws = new WebSocket("wss://live.news.example/comments");
  ws.onopen = function () {
    ws.send(JSON.stringify({ subscribe: "article-42", reader: localStorage.getItem("reader_prefs") }));
    document.getElementById("live-status").textContent = "connected";
  };
})();
// Reading-time statistics computed off the main thread.
new Worker("/worker.js");

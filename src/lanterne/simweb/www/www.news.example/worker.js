// A dedicated worker of the news site: reports that it started, to the site's own server.
fetch("/api/worker-ping", { method: "POST", body: "worker=stats" });

// First-party only: remember the reader's last visit, and count it on the site's own server.
localStorage.setItem("last_visit", new Date().toISOString());
fetch("/api/hit", { method: "POST", body: JSON.stringify({ path: location.pathname }) });

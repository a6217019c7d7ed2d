/* Lanterne simulated web: an emulation of the TikTok pixel, written for Lanterne's demo and tests.
   It behaves like the real pixel as seen in public captures (2025): a first-party _ttp cookie, JSON
   beacons to /api/v2/pixel (Pageview, then events), page metadata to /api/v2/pixel/act, and "advanced
   matching": the SHA-256 of an email typed into a form, sent as soon as the field changes. */
(function (w, d) {
  var ENDPOINT = "https://analytics.tiktok.com/api/v2/pixel";
  var me = d.currentScript && d.currentScript.src ? new URL(d.currentScript.src) : null;
  var code = me ? me.searchParams.get("sdkid") : "";
  var libName = (me && me.searchParams.get("lib")) || "ttq";
  var ttq = w[libName] = w[libName] || [];
  if (ttq._lanterneLoaded) return;
  ttq._lanterneLoaded = true;

  function rand(n) {
    var abc = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", s = "";
    for (var i = 0; i < n; i++) s += abc[Math.floor(Math.random() * abc.length)];
    return s;
  }
  function getCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  var ttp = getCookie("_ttp");
  if (!ttp) {
    ttp = rand(26);
    d.cookie = "_ttp=" + ttp + "; path=/; max-age=" + 60 * 60 * 24 * 395 + "; SameSite=Lax";
  }
  var sessionId = rand(8).toLowerCase() + "-" + Date.now();
  var user = { anonymous_id: ttp + "_.tt.1" };

  function context() {
    return {
      ad: { sdk_env: "external", jsb_status: 2 },
      device: { platform: "pc" },
      user: JSON.parse(JSON.stringify(user)),
      pixel: { code: code, runtime: "1" },
      page: { url: w.location.href, referrer: d.referrer, load_progress: "1" },
      library: { name: "pixel.js", version: "2.2.0" },
      session_id: sessionId + "::" + code,
      userAgent: navigator.userAgent
    };
  }
  function labels() {
    return {
      raw_email: { label: "missing" }, raw_phone: { label: "missing" },
      hashed_email: { label: user.email ? "valid" : "missing" }, hashed_phone: { label: "missing" }
    };
  }
  function post(url, payload) {
    return fetch(url, {
      method: "POST", body: JSON.stringify(payload), credentials: "include", keepalive: true,
      headers: { "Content-Type": "text/plain;charset=UTF-8" }
    }).catch(function () {});
  }
  function send(event, properties) {
    return post(ENDPOINT, {
      event: event, event_id: "", message_id: "messageId-" + Date.now() + "-" + rand(13) + "-" + code,
      is_onsite: false, timestamp: new Date().toISOString(), context: context(),
      properties: properties || {}, signal_diagnostic_labels: labels()
    });
  }
  function metadata() {
    var og = {};
    d.querySelectorAll('meta[property^="og:"]').forEach(function (m) { og[m.getAttribute("property")] = m.content; });
    return post(ENDPOINT + "/act", {
      event_id: "", message_id: "messageId-" + Date.now() + "-" + rand(13), is_onsite: false,
      timestamp: new Date().toISOString(), context: context(), properties: {},
      signal_diagnostic_labels: labels(), action: "Metadata",
      auto_collected_properties: {
        page_trigger: "PageView",
        content_data: { title: d.title, open_graph: JSON.stringify(og) }
      }
    });
  }
  function sha256hex(text) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (buf) {
      return Array.from(new Uint8Array(buf)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    });
  }
  var api = {
    page: function () { send("Pageview").then(metadata); },
    track: function (event, props) { send(event, props); },
    identify: function (fields) { for (var k in fields) user[k] = fields[k]; }
  };
  // Advanced matching: hash any email typed into a form and send it, without waiting for a submission.
  d.addEventListener("change", function (e) {
    var el = e.target;
    if (!el || el.tagName !== "INPUT") return;
    var name = ((el.name || "") + " " + (el.id || "") + " " + (el.type || "")).toLowerCase();
    var value = (el.value || "").trim().toLowerCase();
    if (name.indexOf("email") < 0 || value.indexOf("@") < 1) return;
    sha256hex(value).then(function (hash) {
      api.identify({ email: hash });
      send("SubmitForm", { form_id: (el.form && el.form.id) || "" });
    });
  }, true);
  var queued = Array.prototype.slice.call(ttq);
  ttq.length = 0;
  ["page", "track", "identify"].forEach(function (m) { ttq[m] = api[m]; });
  queued.forEach(function (call) { if (api[call[0]]) api[call[0]].apply(null, call.slice(1)); });
})(window, document);

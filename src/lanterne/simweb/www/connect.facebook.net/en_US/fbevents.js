/* Lanterne simulated web: an emulation of the Meta (Facebook) pixel, written for Lanterne's demo and tests.
   Like the real one, it sets a first-party _fbp cookie and sends each event as a GET image beacon to
   https://www.facebook.com/tr/ with the pixel id (id), event name (ev), page URL (dl) and referrer (rl). */
(function (w, d) {
  var fbq = w.fbq;
  if (!fbq || fbq.loaded) return;
  fbq.loaded = true;
  var pixels = [];
  function getCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  var fbp = getCookie("_fbp");
  if (!fbp) {
    fbp = "fb.1." + Date.now() + "." + Math.floor(Math.random() * 1e10);
    d.cookie = "_fbp=" + fbp + "; path=/; max-age=" + 60 * 60 * 24 * 90 + "; SameSite=Lax";
  }
  function beacon(id, ev, custom) {
    var q = new URLSearchParams({
      id: id, ev: ev, dl: w.location.href, rl: d.referrer, if: "false", ts: String(Date.now()),
      sw: String(screen.width), sh: String(screen.height), v: "2.9.179", r: "stable", ec: "0",
      o: "4126", fbp: fbp, it: String(Date.now()), coo: "false", rqm: "GET"
    });
    for (var k in custom || {}) q.append("cd[" + k + "]", custom[k]);
    new Image().src = "https://www.facebook.com/tr/?" + q.toString();
  }
  function call(method) {
    var args = Array.prototype.slice.call(arguments, 1);
    if (method === "init") pixels.push(args[0]);
    if (method === "track" || method === "trackCustom") pixels.forEach(function (id) { beacon(id, args[0], args[1]); });
  }
  var queued = fbq.queue || [];
  fbq.callMethod = call;
  queued.forEach(function (a) { call.apply(null, Array.prototype.slice.call(a)); });
  fbq.queue = [];
})(window, document);

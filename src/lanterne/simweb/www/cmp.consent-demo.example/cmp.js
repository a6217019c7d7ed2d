/* Lanterne simulated web: a consent management platform (CMP) emulation written for Lanterne's demo and
   tests. It implements the IAB TCF v2 API (__tcfapi: ping, getTCData, addEventListener,
   removeEventListener) with real TC strings, and shows a banner whose markup follows a widespread CMP's
   (Didomi's element ids), so that maintained rule sets such as DuckDuckGo's autoconsent recognise it.
   Choices are stored in the euconsent-v2 cookie; the page is told through a "consent-demo:choice" event. */
(function (w, d) {
  if (w.__tcfapi && w.__tcfapi.lanterne) return;
  var CMP_ID = 4094, CMP_VERSION = 1, VENDOR_LIST_VERSION = 150;
  var ACCEPT_VENDORS = [32, 52, 755];
  var listeners = [], nextId = 1, state = { tcString: "", eventStatus: "cmpuishown", accepted: null };

  function bits(value, n) { var s = value.toString(2); while (s.length < n) s = "0" + s; return s.slice(-n); }
  function letters(code) { return bits(code.charCodeAt(0) - 65, 6) + bits(code.charCodeAt(1) - 65, 6); }
  function encode(accepted) {
    var now = Math.round(Date.now() / 100), purposes = "", vendors = "", max = accepted ? 755 : 0, i;
    for (i = 1; i <= 24; i++) purposes += accepted && i <= 10 ? "1" : "0";
    for (i = 1; i <= max; i++) vendors += ACCEPT_VENDORS.indexOf(i) >= 0 ? "1" : "0";
    var b = bits(2, 6) + bits(now, 36) + bits(now, 36) + bits(CMP_ID, 12) + bits(CMP_VERSION, 12) + bits(1, 6) +
      letters("FR") + bits(VENDOR_LIST_VERSION, 12) + bits(4, 6) + "1" + "0" + bits(0, 12) + purposes +
      bits(0, 24) + "0" + letters("FR") + bits(max, 16) + "0" + vendors + bits(0, 16) + "0" + bits(0, 12);
    while (b.length % 8) b += "0";
    var bytes = "";
    for (i = 0; i < b.length; i += 8) bytes += String.fromCharCode(parseInt(b.slice(i, i + 8), 2));
    return btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function tcData(listenerId) {
    return { tcString: state.tcString, tcfPolicyVersion: 4, cmpId: CMP_ID, cmpVersion: CMP_VERSION, gdprApplies: true,
             eventStatus: state.eventStatus, cmpStatus: "loaded", listenerId: listenerId, isServiceSpecific: true,
             publisherCC: "FR", purposeOneTreatment: false };
  }
  function notify() { listeners.forEach(function (l) { l.cb(tcData(l.id), true); }); }
  var api = function (command, version, callback, parameter) {
    if (command === "ping") callback({ gdprApplies: true, cmpLoaded: true, cmpStatus: "loaded", displayStatus: state.accepted === null ? "visible" : "hidden", apiVersion: "2.2", cmpVersion: CMP_VERSION, cmpId: CMP_ID, tcfPolicyVersion: 4 }, true);
    else if (command === "getTCData") callback(tcData(), true);
    else if (command === "addEventListener") { var id = nextId++; listeners.push({ id: id, cb: callback }); callback(tcData(id), true); }
    else if (command === "removeEventListener") { listeners = listeners.filter(function (l) { return l.id !== parameter; }); callback(true); }
    else callback(null, false);
  };
  api.lanterne = true;
  w.__tcfapi = api;

  function cookie(name) { var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)")); return m ? decodeURIComponent(m[1]) : null; }
  function choose(accepted) {
    state.accepted = accepted;
    state.tcString = encode(accepted);
    state.eventStatus = "useractioncomplete";
    d.cookie = "euconsent-v2=" + state.tcString + "; path=/; max-age=" + 60 * 60 * 24 * 180 + "; SameSite=Lax";
    d.cookie = "consent_demo_choice=" + (accepted ? "accepted" : "refused") + "; path=/; max-age=" + 60 * 60 * 24 * 180 + "; SameSite=Lax";
    var host = d.getElementById("didomi-host");
    if (host) { host.innerHTML = ""; host.setAttribute("aria-hidden", "true"); }
    notify();
    w.dispatchEvent(new CustomEvent("consent-demo:choice", { detail: { accepted: accepted } }));
  }
  function banner() {
    var host = d.createElement("div");
    host.id = "didomi-host";
    host.innerHTML =
      '<div id="didomi-notice" class="didomi-notice-banner" role="dialog" aria-label="Consentement" ' +
      'style="position:fixed;left:0;right:0;bottom:0;background:#fff;border-top:2px solid #333;padding:16px;z-index:99999;font-family:sans-serif">' +
      "<p>Nous et nos partenaires utilisons des cookies pour mesurer l\u2019audience et personnaliser la publicit\u00e9.</p>" +
      '<button id="didomi-notice-disagree-button" type="button">Continuer sans accepter</button> ' +
      '<button id="didomi-notice-agree-button" type="button">Accepter et fermer</button></div>';
    d.body.appendChild(host);
    d.getElementById("didomi-notice-agree-button").addEventListener("click", function () { choose(true); });
    d.getElementById("didomi-notice-disagree-button").addEventListener("click", function () { choose(false); });
  }
  var stored = cookie("consent_demo_choice");
  if (stored) {
    state.accepted = stored === "accepted";
    state.tcString = cookie("euconsent-v2") || "";
    state.eventStatus = "tcloaded";
    w.addEventListener("DOMContentLoaded", function () {
      w.dispatchEvent(new CustomEvent("consent-demo:choice", { detail: { accepted: state.accepted, stored: true } }));
    });
  } else if (d.body) banner();
  else d.addEventListener("DOMContentLoaded", banner);
})(window, document);

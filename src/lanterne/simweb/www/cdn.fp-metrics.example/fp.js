/* Lanterne simulated web: a browser fingerprinting script written for Lanterne's demo and tests, doing what
   published studies describe fingerprinters doing: canvas (Englehardt & Narayanan 2016), WebGL renderer,
   AudioContext, navigator and screen properties, WebRTC local addresses and the battery. */
(function () {
  var parts = [];
  // Canvas: text with many characters and two colours, then the pixels read back as PNG.
  var c = document.createElement("canvas"); c.width = 240; c.height = 60;
  var x = c.getContext("2d");
  x.textBaseline = "top"; x.font = "14px Arial"; x.fillStyle = "#f60"; x.fillRect(125, 1, 62, 20);
  x.fillStyle = "#069"; x.fillText("Cwm fjordbank glyphs vext quiz, \ud83d\ude03", 2, 15);
  x.fillStyle = "rgba(102, 204, 0, 0.7)"; x.fillText("Cwm fjordbank glyphs vext quiz, \ud83d\ude03", 4, 17);
  parts.push(c.toDataURL().length);
  // WebGL: the graphics card, through the debug extension.
  var gl = document.createElement("canvas").getContext("webgl");
  if (gl) {
    var ext = gl.getExtension("WEBGL_debug_renderer_info");
    if (ext) { parts.push(gl.getParameter(ext.UNMASKED_VENDOR_WEBGL)); parts.push(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)); }
    parts.push(gl.getParameter(gl.VERSION));
  }
  // Navigator and screen.
  var n = navigator, s = screen;
  parts.push(n.userAgent, n.platform, n.language, n.languages, n.hardwareConcurrency, n.deviceMemory, n.vendor,
             n.plugins.length, n.mimeTypes.length, n.maxTouchPoints, n.cookieEnabled, n.doNotTrack,
             s.width, s.height, s.colorDepth, s.pixelDepth, s.availWidth, s.availHeight);
  // WebRTC: local network addresses.
  try {
    var pc = new RTCPeerConnection({ iceServers: [] });
    pc.createDataChannel("");
    pc.onicecandidate = function () {};
    pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).catch(function () {});
  } catch (e) {}
  if (n.getBattery) n.getBattery().then(function (b) { parts.push(b.level); }).catch(function () {});
  // Audio: an oscillator through a compressor, rendered offline.
  try {
    var ac = new OfflineAudioContext(1, 5000, 44100);
    var osc = ac.createOscillator(); osc.type = "triangle"; osc.frequency.value = 10000;
    var comp = ac.createDynamicsCompressor(); osc.connect(comp); comp.connect(ac.destination); osc.start(0);
    ac.startRendering().then(function (buf) { parts.push(buf.getChannelData(0)[4000]); send(); });
  } catch (e) { send(); }
  function send() {
    var text = JSON.stringify(parts), h = 0;
    for (var i = 0; i < text.length; i++) { h = ((h << 5) - h + text.charCodeAt(i)) | 0; }
    navigator.sendBeacon("https://collect.fp-metrics.example/fp", JSON.stringify({ id: (h >>> 0).toString(16) }));
  }
})();

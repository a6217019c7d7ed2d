/* Lanterne's probe: installed before any page script, in every frame. It wraps the browser APIs that
   fingerprinters and session recorders use and records, for each call, the script that made it.

   - Wrapped functions are Proxies of the originals, so Function.prototype.toString, .name and .length are
     those of the native functions, and the calls behave exactly as before (same this, same errors).
   - Nothing is added to the page's globals. Records leave through a saved reference to console.debug,
     which the page cannot observe, and are read by Lanterne from the DevTools console events.
   - Volume is bounded: calls are counted per (script, API); only the first few of each carry arguments. */
(() => {
  "use strict";
  const MARK = "__lanterne_probe__";
  const debug = Function.prototype.call.bind(console.debug, console);
  const ErrorCtor = Error;
  const stringify = JSON.stringify;
  const ReflectApply = Reflect.apply;
  const ReflectConstruct = Reflect.construct;
  const defineProperty = Object.defineProperty;
  const getDescriptor = Object.getOwnPropertyDescriptor;
  const MapCtor = Map;
  const SetCtor = Set;
  const WeakMapCtor = WeakMap;
  const setTimer = setTimeout;
  const DETAILED = 8;
  const MAX_ARG = 200;

  const counts = new MapCtor();  // "script|api" -> {script, api, count, args: []}
  let dirty = new SetCtor();
  let scheduled = false;

  function callerScript() {
    const saved = ErrorCtor.stackTraceLimit;
    ErrorCtor.stackTraceLimit = 30;
    const stack = String(new ErrorCtor().stack || "");
    ErrorCtor.stackTraceLimit = saved;
    const lines = stack.split("\n");
    for (let i = 1; i < lines.length; i++) {
      // "at f (https://host/a.js:1:2)", "at https://host/a.js:1:2", "at eval (eval at f (https://host/a.js:1:2), ...)"
      const m = lines[i].match(/(https?:\/\/[^\s)]+?):\d+:\d+/);
      if (m) return m[1];
    }
    // No page or site script on the stack: code injected by the browser's automation (Lanterne's own
    // consent agent), which must not be mistaken for the page's.
    return null;
  }

  function short(value) {
    try {
      if (typeof value === "string") return value.slice(0, MAX_ARG);
      if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return value;
      return String(value).slice(0, MAX_ARG);
    } catch (e) {
      return "?";
    }
  }

  function flush() {
    scheduled = false;
    if (!dirty.size) return;
    const batch = [];
    dirty.forEach((key) => batch.push(counts.get(key)));
    dirty = new SetCtor();
    try { debug(MARK, stringify({ frame: location.href, calls: batch })); } catch (e) { /* never break the page */ }
  }

  function record(api, args, extra) {
    try {
      const script = callerScript();
      if (script === null) return;
      const key = script + "|" + api;
      let entry = counts.get(key);
      if (!entry) {
        entry = { script: script, api: api, count: 0, args: [] };
        counts.set(key, entry);
      }
      entry.count++;
      if (entry.args.length < DETAILED) {
        const item = [];
        for (let i = 0; i < args.length && i < 4; i++) item.push(short(args[i]));
        if (extra !== undefined) item.push(extra);
        entry.args.push(item);
      }
      dirty.add(key);
      if (!scheduled) { scheduled = true; setTimer(flush, 200); }
    } catch (e) { /* never break the page */ }
  }

  function wrapMethod(proto, name, api, extra) {
    if (!proto) return;
    const desc = getDescriptor(proto, name);
    if (!desc || typeof desc.value !== "function") return;
    const original = desc.value;
    const proxy = new Proxy(original, {
      apply(target, self, args) {
        record(api || name, args, extra ? extra(self, args) : undefined);
        return ReflectApply(target, self, args);
      },
    });
    defineProperty(proto, name, { value: proxy, writable: desc.writable, enumerable: desc.enumerable, configurable: desc.configurable });
  }

  function wrapGetter(proto, name, api) {
    if (!proto) return;
    const desc = getDescriptor(proto, name);
    if (!desc || typeof desc.get !== "function") return;
    const getter = new Proxy(desc.get, {
      apply(target, self, args) {
        record(api, [name]);
        return ReflectApply(target, self, args);
      },
    });
    defineProperty(proto, name, { get: getter, set: desc.set, enumerable: desc.enumerable, configurable: desc.configurable });
  }

  function wrapSetter(proto, name, api, onSet) {
    if (!proto) return;
    const desc = getDescriptor(proto, name);
    if (!desc || typeof desc.set !== "function") return;
    const setter = new Proxy(desc.set, {
      apply(target, self, args) {
        if (onSet) onSet(self, args[0]);
        if (api) record(api, [args[0]]);
        return ReflectApply(target, self, args);
      },
    });
    defineProperty(proto, name, { get: desc.get, set: setter, enumerable: desc.enumerable, configurable: desc.configurable });
  }

  function wrapConstructor(owner, name, api) {
    const desc = getDescriptor(owner, name);
    if (!desc || typeof desc.value !== "function") return;
    const proxy = new Proxy(desc.value, {
      construct(target, args, newTarget) {
        record(api, args);
        return ReflectConstruct(target, args, newTarget);
      },
    });
    defineProperty(owner, name, { value: proxy, writable: desc.writable, enumerable: desc.enumerable, configurable: desc.configurable });
  }

  // -- canvas: what was drawn on each canvas, checked when its pixels are read (Englehardt & Narayanan) --
  const canvasState = new WeakMapCtor();
  function stateOf(canvas) {
    let s = canvasState.get(canvas);
    if (!s) { s = { chars: new SetCtor(), colors: new SetCtor(), saveRestore: false, listeners: false }; canvasState.set(canvas, s); }
    return s;
  }
  function summary(canvas, format, area) {
    const s = stateOf(canvas);
    return { width: canvas.width, height: canvas.height, format: format || "image/png", area: area,
             chars: s.chars.size, colors: s.colors.size, save_restore: s.saveRestore, listeners: s.listeners };
  }
  const C2D = window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype;
  const CANVAS = window.HTMLCanvasElement && HTMLCanvasElement.prototype;
  if (C2D && CANVAS) {
    wrapMethod(CANVAS, "toDataURL", "canvas.toDataURL", (self, args) => summary(self, args[0]));
    wrapMethod(CANVAS, "toBlob", "canvas.toBlob", (self, args) => summary(self, args[1]));
    wrapMethod(C2D, "getImageData", "canvas.getImageData", (self, args) => summary(self.canvas, "raw", (args[2] || 0) * (args[3] || 0)));
    for (const name of ["fillText", "strokeText"]) {
      wrapMethod(C2D, name, "canvas." + name, (self, args) => {
        const s = stateOf(self.canvas);
        for (const ch of String(args[0]).slice(0, 200)) s.chars.add(ch);
        s.colors.add(String(self.fillStyle));
        return undefined;
      });
    }
    for (const name of ["save", "restore"]) {
      const desc = getDescriptor(C2D, name);
      if (desc && typeof desc.value === "function") {
        const original = desc.value;
        defineProperty(C2D, name, { value: new Proxy(original, { apply(t, self, args) { try { stateOf(self.canvas).saveRestore = true; } catch (e) {} return ReflectApply(t, self, args); } }),
          writable: desc.writable, enumerable: desc.enumerable, configurable: desc.configurable });
      }
    }
    wrapSetter(C2D, "fillStyle", null, (self, value) => { try { stateOf(self.canvas).colors.add(String(value)); } catch (e) {} });
    wrapSetter(C2D, "font", "canvas.font");
    wrapMethod(C2D, "measureText", "canvas.measureText", (self) => String(self.font));
  }

  // -- WebGL ------------------------------------------------------------------------------------------------
  for (const ctor of ["WebGLRenderingContext", "WebGL2RenderingContext"]) {
    const proto = window[ctor] && window[ctor].prototype;
    wrapMethod(proto, "getParameter", "webgl.getParameter");
    wrapMethod(proto, "getExtension", "webgl.getExtension");
    wrapMethod(proto, "getSupportedExtensions", "webgl.getSupportedExtensions");
    wrapMethod(proto, "readPixels", "webgl.readPixels");
  }

  // -- audio ---------------------------------------------------------------------------------------------
  wrapConstructor(window, "OfflineAudioContext", "audio.OfflineAudioContext");
  wrapConstructor(window, "AudioContext", "audio.AudioContext");
  const BASE_AUDIO = window.BaseAudioContext && BaseAudioContext.prototype;
  wrapMethod(BASE_AUDIO, "createOscillator", "audio.createOscillator");
  wrapMethod(BASE_AUDIO, "createDynamicsCompressor", "audio.createDynamicsCompressor");
  wrapMethod(BASE_AUDIO, "createAnalyser", "audio.createAnalyser");
  wrapMethod(window.OfflineAudioContext && OfflineAudioContext.prototype, "startRendering", "audio.startRendering");
  wrapMethod(window.AudioBuffer && AudioBuffer.prototype, "getChannelData", "audio.getChannelData");

  // -- navigator and screen properties ----------------------------------------------------------------------
  const NAV = window.Navigator && Navigator.prototype;
  for (const name of ["userAgent", "platform", "language", "languages", "plugins", "mimeTypes", "hardwareConcurrency",
                      "deviceMemory", "vendor", "appVersion", "cookieEnabled", "doNotTrack", "maxTouchPoints",
                      "webdriver", "product", "productSub", "oscpu", "userAgentData", "connection", "pdfViewerEnabled"]) {
    wrapGetter(NAV, name, "navigator." + name);
  }
  wrapMethod(NAV, "getBattery", "navigator.getBattery");
  const SCREEN = window.Screen && Screen.prototype;
  for (const name of ["width", "height", "availWidth", "availHeight", "colorDepth", "pixelDepth", "availLeft", "availTop", "orientation"]) {
    wrapGetter(SCREEN, name, "screen." + name);
  }

  // -- WebRTC ------------------------------------------------------------------------------------------------
  wrapConstructor(window, "RTCPeerConnection", "webrtc.RTCPeerConnection");
  const RTC = window.RTCPeerConnection && RTCPeerConnection.prototype;
  wrapMethod(RTC, "createDataChannel", "webrtc.createDataChannel");
  wrapMethod(RTC, "createOffer", "webrtc.createOffer");
  wrapMethod(RTC, "setLocalDescription", "webrtc.setLocalDescription");
  wrapSetter(RTC, "onicecandidate", "webrtc.onicecandidate");

  // -- what session recorders do: watch the whole document, listen to input ----------------------------------
  const MO = window.MutationObserver && MutationObserver.prototype;
  wrapMethod(MO, "observe", "dom.MutationObserver.observe", (self, args) => {
    const target = args[0];
    const options = args[1] || {};
    const root = target === document || target === document.documentElement || target === document.body;
    return { root: !!root, subtree: !!options.subtree, characterData: !!options.characterData, attributes: !!options.attributes };
  });
  const INPUT_EVENTS = { keydown: 1, keyup: 1, keypress: 1, input: 1, change: 1, mousemove: 1, click: 1, scroll: 1, touchstart: 1 };
  const ET = window.EventTarget && EventTarget.prototype;
  if (ET) {
    const desc = getDescriptor(ET, "addEventListener");
    const original = desc.value;
    defineProperty(ET, "addEventListener", {
      value: new Proxy(original, {
        apply(target, self, args) {
          try {
            const type = String(args[0]);
            if (INPUT_EVENTS[type] && (self === document || self === window || (self && self.tagName))) {
              record("dom.listen." + type, [self === window ? "window" : self === document ? "document" : String(self.tagName).toLowerCase()]);
            }
            if (self && self.tagName === "CANVAS") stateOf(self).listeners = true;
          } catch (e) {}
          return ReflectApply(target, self, args);
        },
      }),
      writable: desc.writable, enumerable: desc.enumerable, configurable: desc.configurable,
    });
  }

  addEventListener("pagehide", flush, true);
})();

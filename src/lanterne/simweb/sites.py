"""What the simulated web serves: the demo sites, the third parties they call, and hostile sites.

Static content lives in `www/<host>/`; behaviour that needs code (beacons that answer, cookies set by
headers, redirects, pages that hang or never end) is registered here. All of it is written for Lanterne.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import secrets
from collections.abc import Iterator
from pathlib import Path

from lanterne.simweb.server import BAD_TLS_HOST, Router, SimRequest, SimResponse

WWW = Path(__file__).parent / "www"

# A hostile site whose address itself carries markup.
XSS_SITE = "https://xss.example/%3Cscript%3Ewindow.__pwned=11%3C/script%3E?q=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E"

# The demo, in the order `lanterne demo` scans it: three ordinary sites, then hostile ones.
DEMO_SITES = [
    "https://www.clinic.example/",
    "https://www.news.example/",
    "https://www.plain.example/",
    "https://www.lookalike.example/",
    "https://www.journal-fr.example/",
    "https://www.respectueux.example/",
    "https://www.fingerprint.example/",
    "https://www.fonts-fp.example/",
    "https://www.recorded.example/",
    "https://www.keylogger.example/",
    "https://www.charts.example/",
    "https://www.i18n.example/",
    "https://hang.example/",
    "https://loop.example/",
    "https://huge.example/",
    "https://dialogs.example/",
    XSS_SITE,
]

# Pixel ids used by the demo pages (tests assert on them).
TIKTOK_PIXEL_CODE = "CLANTERNEDEMO0PIXEL1"
META_PIXEL_ID = "1234567890123456"
GA4_MEASUREMENT_ID = "G-DEMONEWS01"

HUGE_BODY_BYTES = 50 * 1024 * 1024
GIF_1X1 = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8"}


def _content_type(path: Path) -> str:
    if path.suffix in _TYPES:
        return _TYPES[path.suffix]
    if path.suffix == "":
        return "text/javascript"  # extension-less library URLs such as /gtag/js
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def static_file(host: str, path: str) -> SimResponse | None:
    root = (WWW / host).resolve()
    if not root.is_dir():
        return None
    rel = path.lstrip("/")
    candidates = [rel or "index.html", f"{rel}.html", f"{rel.rstrip('/')}/index.html"]
    for candidate in candidates:
        target = (root / candidate).resolve()
        if root in target.parents and target.is_file():
            return SimResponse(body=target.read_bytes(), content_type=_content_type(target))
    return None


def _static_or_404(req: SimRequest) -> SimResponse:
    found = static_file(req.host, req.path)
    if found is None:
        return SimResponse(status=404, body=b"not found", content_type="text/plain")
    return found


def _json(obj: object, status: int = 200) -> SimResponse:
    return SimResponse(status=status, body=json.dumps(obj).encode(), content_type="application/json")


def _page(title: str, body: str) -> bytes:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>".encode()


def _huge_body() -> Iterator[bytes]:
    yield _page("Huge Example", "<p>A page with a 50 MB body.</p><!--")[:-14]
    chunk = b"x" * (1024 * 1024)
    for _ in range(HUGE_BODY_BYTES // len(chunk)):
        yield chunk
    yield b"--></body></html>"


def add_third_parties(router: Router) -> None:
    """The trackers the demo sites call, emulated."""

    for host in ("analytics.tiktok.com", "connect.facebook.net", "www.googletagmanager.com"):
        router.host(host, _static_or_404)

    @router.route("analytics.tiktok.com", "/api/v2/pixel")
    @router.route("analytics.tiktok.com", "/api/v2/pixel/act")
    def tiktok_beacon(req: SimRequest) -> SimResponse:
        return _json({"code": 0, "message": "OK", "data": {}})

    @router.route("www.facebook.com", "/tr/")
    @router.route("www.facebook.com", "/tr")
    def meta_beacon(req: SimRequest) -> SimResponse:
        fr = req.cookies().get("fr") or secrets.token_urlsafe(24)
        return SimResponse(
            body=GIF_1X1,
            content_type="image/gif",
            headers=[("Set-Cookie", f"fr={fr}; Domain=.facebook.com; Path=/; Max-Age=7776000; Secure; HttpOnly; SameSite=None")],
        )

    @router.route("www.google-analytics.com", "/g/collect")
    def ga4_beacon(req: SimRequest) -> SimResponse:
        return SimResponse(status=204, content_type="text/plain")


def add_demo_sites(router: Router) -> None:
    @router.route("clinic.example", "/")
    def clinic_apex(req: SimRequest) -> SimResponse:
        return SimResponse(status=301, headers=[("Location", "https://www.clinic.example/")])

    def clinic(req: SimRequest) -> SimResponse:
        resp = _static_or_404(req)
        if req.path == "/" and "clinic_session" not in req.cookies():
            resp.headers.append(
                ("Set-Cookie", f"clinic_session={secrets.token_hex(8)}; Path=/; Secure; HttpOnly; SameSite=Lax")
            )
        return resp

    router.host("www.clinic.example", clinic)

    def news(req: SimRequest) -> SimResponse:
        if req.path == "/api/worker-ping":
            return SimResponse(status=204, content_type="text/plain")
        if req.path.startswith("/article/"):
            return static_file(req.host, "/article.html") or _static_or_404(req)
        return _static_or_404(req)

    router.host("www.news.example", news)

    def comments_widget(req: SimRequest) -> SimResponse:
        if req.path == "/api/count":
            return _json({"count": 12})
        return _static_or_404(req)

    router.host("widgets.comments.example", comments_widget)

    @router.route("live.news.example", "/comments")
    def news_live(req: SimRequest) -> SimResponse:
        return SimResponse(websocket=True)

    def plain(req: SimRequest) -> SimResponse:
        if req.path == "/api/hit":
            return SimResponse(status=204, content_type="text/plain")
        resp = _static_or_404(req)
        if req.path == "/":
            resp.headers.append(("Set-Cookie", "plain_pref=compact; Path=/; Max-Age=86400; SameSite=Lax"))
        return resp

    router.host("www.plain.example", plain)


def add_lookalike_site(router: Router) -> None:
    """Negatives that look like tracking and are not (see its page)."""
    router.host("www.lookalike.example", _static_or_404)

    @router.route("analytics.lookalike.example", "/collect")
    def own_analytics(req: SimRequest) -> SimResponse:
        return SimResponse(status=204, content_type="text/plain")

    @router.route("fonts.typeface-cdn.example", "/css")
    def fonts(req: SimRequest) -> SimResponse:
        return SimResponse(body=b"body { font-family: Inter, sans-serif; }", content_type="text/css")


# Sites of the consent, fingerprinting, session-recording and key-logging demos: static pages and scripts,
# and the collectors they send to (which answer 204 to anything).
CONSENT_AND_SCRIPT_SITES = [
    "cmp.consent-demo.example", "www.journal-fr.example", "www.respectueux.example", "www.fingerprint.example",
    "cdn.fp-metrics.example", "www.fonts-fp.example", "www.charts.example", "www.i18n.example",
    "www.recorded.example", "www.clarity.ms", "www.keylogger.example", "cdn.form-insights.example",
]
COLLECTORS = ["collect.fp-metrics.example", "x.clarity.ms", "collect.form-insights.example"]


def add_script_sites(router: Router) -> None:
    for host in CONSENT_AND_SCRIPT_SITES:
        router.host(host, _static_or_404)
    for host in COLLECTORS:
        router.host(host, lambda req: SimResponse(status=204, content_type="text/plain"))


# Generated sites for crawls and benchmarks: siteN.bench.example, each with a fixed, realistic mix of the
# third parties above (drawn from N, so the same site always has the same mix).
BENCH_SUFFIX = ".bench.example"
_SNIPPETS = {
    "tiktok": '''<script>!function (w, d, t) { w.TiktokAnalyticsObject = t; var ttq = w[t] = w[t] || [];
ttq.methods = ["page", "track", "identify"]; ttq.setAndDefer = function (o, m) { o[m] = function () { o.push([m].concat(Array.prototype.slice.call(arguments, 0))); }; };
for (var i = 0; i < ttq.methods.length; i++) ttq.setAndDefer(ttq, ttq.methods[i]);
ttq.load = function (e) { var s = d.createElement("script"); s.async = true; s.src = "https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=" + e + "&lib=" + t; d.head.appendChild(s); };
ttq.load("CBENCHPIXEL000000001"); ttq.page(); }(window, document, "ttq");</script>''',
    "meta": '''<script>!function (f, b, e, v, n, t, s) { if (f.fbq) return; n = f.fbq = function () { n.callMethod ? n.callMethod.apply(n, arguments) : n.queue.push(arguments) };
if (!f._fbq) f._fbq = n; n.push = n; n.loaded = !1; n.version = "2.0"; n.queue = []; t = b.createElement(e); t.async = !0; t.src = v; s = b.getElementsByTagName(e)[0]; s.parentNode.insertBefore(t, s)
}(window, document, "script", "https://connect.facebook.net/en_US/fbevents.js"); fbq("init", "1111111111111111"); fbq("track", "PageView");</script>''',
    "ga4": '''<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH00001"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag() { dataLayer.push(arguments); } gtag("js", new Date()); gtag("config", "G-BENCH00001");</script>''',
    "comments": '''<iframe src="https://widgets.comments.example/embed?article=1" width="300" height="80" title="Comments"></iframe>''',
    "fonts": '''<link rel="stylesheet" href="https://fonts.typeface-cdn.example/css?family=Inter">''',
    "fingerprint": '''<script src="https://cdn.fp-metrics.example/fp.js" async></script>''',
    "recorder": '''<script async src="https://www.clarity.ms/tag/lanterne01"></script>''',
}


def bench_mix(number: int) -> list[str]:
    """Which third parties site N carries: most sites carry two to four, some none, as on the real web."""
    import random

    rng = random.Random(number)
    weights = {"ga4": 0.7, "meta": 0.45, "tiktok": 0.25, "fonts": 0.4, "comments": 0.15, "fingerprint": 0.08, "recorder": 0.1}
    return [name for name, p in weights.items() if rng.random() < p]


def add_bench_sites(router: Router) -> None:
    def generated(req: SimRequest) -> SimResponse:
        label = req.host[: -len(BENCH_SUFFIX)].split(".")[-1]
        number = int("".join(ch for ch in label if ch.isdigit()) or 0)
        if req.path not in ("/", "/about"):
            return SimResponse(status=404, body=b"not found", content_type="text/plain")
        snippets = "\n".join(_SNIPPETS[name] for name in bench_mix(number))
        paragraphs = "".join(f"<p>Paragraph {i} of site {number}.</p>" for i in range(30))
        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Bench site {number}</title>{snippets}</head>"
            f"<body><h1>Site {number}</h1><form><label>Email <input type=email name=email></label></form>"
            f"{paragraphs}<a href='/about'>About</a><div style='height:1500px'></div></body></html>"
        )
        return SimResponse(body=body.encode())

    router.suffix(BENCH_SUFFIX, generated)


def bench_sites(count: int) -> list[str]:
    return [f"https://site{n}{BENCH_SUFFIX}/" for n in range(1, count + 1)]


def add_hostile_sites(router: Router) -> None:
    @router.route("hang.example", "/")
    def hang(req: SimRequest) -> SimResponse:
        # Sends the start of a page, then nothing, forever: the load event never comes.
        return SimResponse(
            body=b"<!doctype html><html><head><title>Hang Example</title></head><body><p>Loading",
            hang=True,
        )

    def loop(req: SimRequest) -> SimResponse:
        nxt = "/b" if req.path == "/a" else "/a"
        return SimResponse(status=302, headers=[("Location", f"https://loop.example{nxt}")], content_type="text/plain")

    router.host("loop.example", loop)

    @router.route("huge.example", "/")
    def huge(req: SimRequest) -> SimResponse:
        return SimResponse(body=_huge_body())

    @router.route("dialogs.example", "/")
    def dialogs(req: SimRequest) -> SimResponse:
        return SimResponse(
            body=_page(
                "Dialogs Example",
                "<p>Pops dialogs.</p><script>alert('first alert'); confirm('Really?'); prompt('Your name?');"
                "window.onbeforeunload = function (e) { e.preventDefault(); return 'stay'; };"
                "setTimeout(function () { alert('late alert'); }, 300);</script>",
            )
        )

    @router.route("dialog-storm.example", "/")
    def dialog_storm(req: SimRequest) -> SimResponse:
        return SimResponse(body=_page("Dialog storm", "<script>for (;;) { alert('again'); }</script>"))

    @router.route("crash.example", "/")
    def crash(req: SimRequest) -> SimResponse:
        # Exhausts the JavaScript heap: V8 aborts and the renderer process dies.
        return SimResponse(
            body=_page("Crash Example", "<script>var a = []; for (;;) { a.push(new Array(1e6).fill(1.5)); }</script>")
        )

    def xss(req: SimRequest) -> SimResponse:
        # Everything a report could be tricked by: markup in the title, the path, cookies, storage keys,
        # tracker payloads, and javascript: links. A report must show all of it as text and run none of it.
        payload = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
        body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{payload}</title></head><body>
<h1>Hostile page</h1>
<a href="javascript:window.__pwned=3">a javascript: link</a>
<script>
document.cookie = "xss=" + encodeURIComponent('"><img src=x onerror=window.__pwned=4>') + "; path=/";
localStorage.setItem('<svg onload="window.__pwned=5">', 'javascript:window.__pwned=6');
var data = {{ event: "<script>window.__pwned=7<\\/script>", page: location.href,
             link: "javascript:window.__pwned=8", html: '"><img src=x onerror=window.__pwned=9>' }};
fetch("https://collect.hostile-tracker.example/e?dl=" + encodeURIComponent(location.href) + "&ev=%3Cscript%3Ewindow.__pwned%3D10%3C%2Fscript%3E",
      {{ method: "POST", body: JSON.stringify(data) }});
</script></body></html>"""
        return SimResponse(body=body.encode())

    router.host("xss.example", xss)

    @router.route("collect.hostile-tracker.example", "/e")
    def hostile_collector(req: SimRequest) -> SimResponse:
        return SimResponse(status=204, content_type="text/plain", headers=[("Set-Cookie", 'h="<b>bold</b>"; Path=/; Secure; SameSite=None')])

    @router.route("www.stealth-check.example", "/")
    def stealth_check(req: SimRequest) -> SimResponse:
        # A page that looks for instrumentation the way bot detectors do, and reports what it found.
        return SimResponse(body=_page("Stealth check", """<canvas id=c width=20 height=20></canvas><script>
var checks = {
  toDataURL: HTMLCanvasElement.prototype.toDataURL.toString(),
  viaCall: Function.prototype.toString.call(CanvasRenderingContext2D.prototype.getImageData),
  name: HTMLCanvasElement.prototype.toDataURL.name + "/" + HTMLCanvasElement.prototype.toDataURL.length,
  getter: Object.getOwnPropertyDescriptor(Navigator.prototype, "userAgent").get.toString(),
  ctor: String(window.OfflineAudioContext),
  listen: EventTarget.prototype.addEventListener.toString(),
  globals: Object.keys(window).filter(function (k) { return /lanterne|probe/i.test(k); }).join(","),
  works: document.getElementById("c").toDataURL().slice(0, 22),
  audio: new OfflineAudioContext(1, 44100, 44100) instanceof OfflineAudioContext,
};
fetch("/result", { method: "POST", body: JSON.stringify(checks) });
</script>"""))

    @router.route("www.stealth-check.example", "/result")
    def stealth_result(req: SimRequest) -> SimResponse:
        return SimResponse(status=204, content_type="text/plain")

    @router.route(BAD_TLS_HOST, "/")
    def bad_tls(req: SimRequest) -> SimResponse:
        return SimResponse(body=_page("Unreachable", "never served: the certificate is refused"))


def demo_router() -> Router:
    router = Router()
    add_third_parties(router)
    add_demo_sites(router)
    add_lookalike_site(router)
    add_script_sites(router)
    add_bench_sites(router)
    add_hostile_sites(router)
    return router

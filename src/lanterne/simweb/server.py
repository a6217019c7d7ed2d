"""The simulated web: one loopback server that answers for every host name.

Chromium is started with `--host-resolver-rules="MAP * 127.0.0.1:PORT"`, so every name it looks up (the demo
sites and the third parties they call) reaches this server, on one port, over TLS or plain HTTP (the first
byte of a connection tells which). What each host answers is decided by a `Router` (see `sites.py`).
Nothing ever leaves loopback: the server binds 127.0.0.1 and Chromium resolves nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs, urlsplit

from lanterne.simweb.tls import CertificateAuthority

# Hosts given special treatment by the resolver rules or the TLS layer, to play network failures.
NXDOMAIN_HOST = "nxdomain.example"  # name resolution fails
REFUSED_HOST = "refused.example"  # connection refused (mapped to a closed port)
BAD_TLS_HOST = "bad-tls.example"  # served with a certificate Chromium does not trust

MAX_REQUEST_BODY = 4 * 1024 * 1024


@dataclass
class SimRequest:
    method: str
    scheme: str
    host: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: Message
    body: bytes

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for part in (self.headers.get("Cookie") or "").split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                jar[k.strip()] = v.strip()
        return jar


@dataclass
class SimResponse:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Send the headers and whatever `body` holds, then keep the connection open without finishing,
    # until the server stops: a page that never finishes loading.
    hang: bool = False
    # Upgrade to a WebSocket that echoes what it receives.
    websocket: bool = False


Handler = Callable[[SimRequest], SimResponse]


@dataclass
class LoggedRequest:
    """What reached the server: used by tests to check that the recorder saw the same traffic."""

    time: float
    method: str
    scheme: str
    host: str
    path: str
    raw_query: str
    body: bytes
    headers: dict[str, str]


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-answer are normal here (timeouts, crashes, closed tabs)


class SimulatedWeb:
    """Start with `with SimulatedWeb(router) as web:`; point Chromium at it with `web.chromium_args()`."""

    def __init__(self, router: Router | None = None, log_limit: int = 100_000) -> None:
        if router is None:
            from lanterne.simweb.sites import demo_router

            router = demo_router()
        self.router = router
        self._ca: CertificateAuthority | None = None
        self._tls: ssl.SSLContext | None = None
        self._server: _ThreadingServer | None = None
        self._closed_port_socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._log_limit = log_limit
        self.port = 0
        self.closed_port = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> SimulatedWeb:
        self._ca = CertificateAuthority()
        self._tls = self._ca.server_context(untrusted_hosts={BAD_TLS_HOST})
        web = self

        class _Handler(_RequestHandler):
            simweb = web

        self._server = _ThreadingServer(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        # A port that is bound but never listened on: connecting to it is refused.
        self._closed_port_socket = socket.socket()
        self._closed_port_socket.bind(("127.0.0.1", 0))
        self.closed_port = self._closed_port_socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lanterne-simweb", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._closed_port_socket is not None:
            self._closed_port_socket.close()
            self._closed_port_socket = None
        if self._ca is not None:
            self._ca.close()
            self._ca = None

    def __enter__(self) -> SimulatedWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what Chromium needs -----------------------------------------------------------------------------
    def chromium_args(self) -> list[str]:
        assert self._ca is not None, "start() the simulated web first"
        rules = ", ".join(
            [
                f"MAP {NXDOMAIN_HOST} ~NOTFOUND",
                f"MAP {REFUSED_HOST} 127.0.0.1:{self.closed_port}",
                f"MAP * 127.0.0.1:{self.port}",
            ]
        )
        return [
            f"--host-resolver-rules={rules}",
            f"--ignore-certificate-errors-spki-list={self._ca.spki_hash}",
            # A small JavaScript heap, so that the crash site exhausts it in a second rather than after
            # several gigabytes; the simulated sites need only a few megabytes.
            "--js-flags=--max-old-space-size=256",
        ]

    # -- the request log ---------------------------------------------------------------------------------
    def requests_seen(self, host: str | None = None) -> list[LoggedRequest]:
        with self._log_lock:
            return [r for r in self._log if host is None or r.host == host]

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            if len(self._log) < self._log_limit:
                self._log.append(entry)

    def _ssl_context(self) -> ssl.SSLContext:
        assert self._tls is not None
        return self._tls


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    simweb: SimulatedWeb
    protocol_version = "HTTP/1.1"
    server_version = "LanterneSimWeb/1"
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log replaces stderr noise

    handshake_failed = False

    def setup(self) -> None:
        self.scheme = "http"
        conn: socket.socket = self.request
        conn.settimeout(self.timeout)
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if first == b"\x16":  # a TLS ClientHello
            try:
                conn = self.simweb._ssl_context().wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                # The client rejected our certificate (the bad-tls host) or went away.
                self.handshake_failed = True
                return
            self.scheme = "https"
            self.request = conn
        super().setup()

    def handle(self) -> None:
        if not self.handshake_failed:
            super().handle()

    def finish(self) -> None:
        if not self.handshake_failed:
            with contextlib.suppress(OSError):
                super().finish()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            self.close_connection = True

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        host = (self.headers.get("Host") or "localhost").split(":")[0].lower()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_REQUEST_BODY)) if length > 0 else b""
        if length > MAX_REQUEST_BODY:
            self.rfile.read(length - MAX_REQUEST_BODY)
        req = SimRequest(
            method=self.command,
            scheme=self.scheme,
            host=host,
            path=split.path or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            raw_query=split.query,
            headers=self.headers,
            body=body,
        )
        self.simweb._record(
            LoggedRequest(
                time=time.time(),
                method=req.method,
                scheme=req.scheme,
                host=host,
                path=req.path,
                raw_query=req.raw_query,
                body=body,
                headers={k: v for k, v in self.headers.items()},
            )
        )
        if self.command == "OPTIONS":
            resp = SimResponse(status=204, content_type="text/plain")
        else:
            try:
                resp = self.simweb.router.handle(req)
            except Exception as exc:  # a bug in a demo handler must not kill the server
                resp = SimResponse(status=500, body=f"handler error: {exc}".encode(), content_type="text/plain")
        if resp.websocket:
            self._websocket(req)
            return
        self._send(req, resp)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _dispatch

    def _cors_headers(self, req: SimRequest) -> list[tuple[str, str]]:
        origin = req.headers.get("Origin")
        if not origin:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Allow-Headers", req.headers.get("Access-Control-Request-Headers") or "*"),
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
        ]

    def _send(self, req: SimRequest, resp: SimResponse) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers + self._cors_headers(req):
            self.send_header(name, value)
        if isinstance(resp.body, bytes) and not resp.hang:
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)
            return
        # Streamed (or never-ending) body: close the connection to mark its end.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunks: Iterable[bytes] = [resp.body] if isinstance(resp.body, bytes) else resp.body
        try:
            for chunk in chunks:
                if self.simweb._stopping.is_set():
                    return
                self.wfile.write(chunk)
            self.wfile.flush()
            if resp.hang:
                # Trickle a byte now and then: the page never completes, and a client that went away
                # shows up as a failed write, which ends this thread.
                while not self.simweb._stopping.wait(1.0):
                    self.wfile.write(b" ")
                    self.wfile.flush()
        except (ConnectionError, OSError):
            return

    def _websocket(self, req: SimRequest) -> None:
        key = req.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.close_connection = True
        for opcode, payload in _read_ws_frames(self.rfile):
            if opcode == 8:  # close
                self._ws_write(8, payload[:2])
                return
            if opcode in (1, 2):
                self._ws_write(opcode, payload)

    def _ws_write(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([n])
        elif n < 65536:
            header += bytes([126]) + struct.pack("!H", n)
        else:
            header += bytes([127]) + struct.pack("!Q", n)
        try:
            self.wfile.write(header + payload)
            self.wfile.flush()
        except OSError:
            pass


def _read_ws_frames(rfile) -> Iterator[tuple[int, bytes]]:  # noqa: ANN001 - a buffered socket file
    while True:
        try:
            head = rfile.read(2)
            if len(head) < 2:
                return
            opcode = head[0] & 0x0F
            masked = head[1] & 0x80
            n = head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", rfile.read(8))[0]
            if n > MAX_REQUEST_BODY:
                return
            mask = rfile.read(4) if masked else b"\0\0\0\0"
            data = bytearray(rfile.read(n))
            for i in range(len(data)):
                data[i] ^= mask[i % 4]
            yield opcode, bytes(data)
        except (OSError, struct.error):
            return


# -- routing ---------------------------------------------------------------------------------------------


class Router:
    """Maps (host, path) to a handler. Exact routes first, then per-host fallbacks, then suffix fallbacks."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._hosts: dict[str, Handler] = {}
        self._suffixes: list[tuple[str, Handler]] = []

    def route(self, host: str, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._routes[(host, path)] = fn
            return fn

        return register

    def host(self, host: str, handler: Handler) -> None:
        self._hosts[host] = handler

    def suffix(self, suffix: str, handler: Handler) -> None:
        self._suffixes.append((suffix, handler))

    def knows(self, host: str) -> bool:
        return (
            host in self._hosts
            or any(h == host for h, _ in self._routes)
            or any(host.endswith(s) for s, _ in self._suffixes)
        )

    def handle(self, req: SimRequest) -> SimResponse:
        fn = self._routes.get((req.host, req.path))
        if fn is None:
            fn = self._hosts.get(req.host)
        if fn is None:
            for suffix, handler in self._suffixes:
                if req.host.endswith(suffix):
                    fn = handler
                    break
        if fn is None:
            return SimResponse(
                status=404,
                body=f"{req.host} is not part of the simulated web".encode(),
                content_type="text/plain",
            )
        return fn(req)

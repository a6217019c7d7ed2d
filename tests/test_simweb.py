"""The simulated web itself: any host name, TLS with a certificate per name, plain HTTP, WebSockets."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lanterne.simweb import SimulatedWeb
from lanterne.simweb.server import BAD_TLS_HOST


def _tls(web: SimulatedWeb, host: str) -> ssl.SSLSocket:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", web.port)), server_hostname=host)


def _spki(cert_der: bytes) -> str:
    cert = x509.load_der_x509_certificate(cert_der)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_certificate_per_host_and_pinned_key(simweb: SimulatedWeb) -> None:
    pinned = next(a for a in simweb.chromium_args() if a.startswith("--ignore-certificate-errors-spki-list="))
    pinned_hash = pinned.split("=", 1)[1]
    with _tls(simweb, "analytics.tiktok.com") as sock:
        der = sock.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == ["analytics.tiktok.com"]
    assert _spki(der) == pinned_hash
    with _tls(simweb, BAD_TLS_HOST) as sock:
        assert _spki(sock.getpeercert(binary_form=True)) != pinned_hash


def test_https_and_plain_http_on_one_port(simweb: SimulatedWeb) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", simweb.port, timeout=5)
    conn.request("GET", "/", headers={"Host": "www.plain.example"})
    resp = conn.getresponse()
    assert resp.status == 200 and b"Plain Example" in resp.read()
    ctx = ssl._create_unverified_context()
    sconn = http.client.HTTPSConnection("127.0.0.1", simweb.port, timeout=5, context=ctx)
    sconn.request("GET", "/i18n/pixel/events.js?sdkid=X", headers={"Host": "analytics.tiktok.com"})
    resp = sconn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/javascript"
    assert b"emulation of the TikTok pixel" in resp.read()
    sconn.request("GET", "/", headers={"Host": "unknown-host.example"})
    resp = sconn.getresponse()
    assert resp.status == 404 and b"not part of the simulated web" in resp.read()
    sconn.request("GET", "/../../../../etc/passwd", headers={"Host": "www.plain.example"})
    resp = sconn.getresponse()
    assert resp.status == 404
    resp.read()


def test_requests_are_logged(simweb: SimulatedWeb) -> None:
    ctx = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", simweb.port, timeout=5, context=ctx)
    conn.request("POST", "/api/v2/pixel", body=b'{"event":"X"}', headers={"Host": "analytics.tiktok.com"})
    assert conn.getresponse().read() == b'{"code": 0, "message": "OK", "data": {}}'
    logged = [r for r in simweb.requests_seen("analytics.tiktok.com") if r.body == b'{"event":"X"}']
    assert logged and logged[-1].method == "POST" and logged[-1].scheme == "https"


def test_websocket_echo(simweb: SimulatedWeb) -> None:
    sock = _tls(simweb, "live.news.example")
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (f"GET /comments HTTP/1.1\r\nHost: live.news.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    payload = b"hello"
    mask = b"\x01\x02\x03\x04"
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    frame = sock.recv(2 + len(payload))
    assert frame == bytes([0x81, len(payload)]) + payload
    sock.close()

"""The app's guards: which addresses may be scanned, who may talk to the app, and forged form posts.

- Scan targets are resolved before anything is fetched; an address that resolves (even partly) to a
  loopback, private, link-local, shared, reserved or cloud-metadata address is refused unless the app was
  started with --allow-private. This keeps the app from being used to probe the network it runs in.
- Bound to anything but loopback, the app requires a token on every request (header, or once in the URL,
  after which a cookie carries it).
- Forms carry a per-browser CSRF token checked against a SameSite=Strict cookie; the JSON API accepts
  only JSON bodies, which a cross-site form cannot send without a CORS preflight the app never grants.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")}
CSRF_COOKIE = "lanterne_csrf"
TOKEN_COOKIE = "lanterne_token"


class TargetRefused(ValueError):
    pass


def forbidden_address(address: str) -> str | None:
    """Why an IP address must not be scanned, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10")):
        return "a private network address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "a reserved address"
    return None


def check_target(url: str, allow_private: bool, resolve=socket.getaddrinfo) -> None:  # noqa: ANN001
    """Refuse targets that resolve to internal addresses (all of its addresses are checked)."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return
    try:
        infos = resolve(host, 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise TargetRefused(f"{host}: the name does not resolve, so it cannot be checked or scanned") from None
    for info in infos:
        reason = forbidden_address(info[4][0])
        if reason:
            raise TargetRefused(
                f"{host} resolves to {info[4][0]}, {reason}: this app does not scan the network it runs in "
                "(start it with --allow-private to allow that)"
            )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))

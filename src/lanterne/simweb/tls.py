"""Certificates for the simulated web, made when it starts.

One certificate authority and one leaf key are generated per server. Each host name Chromium asks for
(TLS SNI) gets its own leaf certificate signed by that authority, so pages see a plausible certificate for
the name they asked. Chromium is told to trust the leaf key by its SPKI hash
(`--ignore-certificate-errors-spki-list`), which only relaxes checks for certificates carrying that key:
a host served with any other key (the `bad-tls` hostile site) still fails as it would on the real web.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lanterne simulated web"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki_sha256_b64(key: ec.EllipticCurvePrivateKey) -> str:
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


class CertificateAuthority:
    """Mints leaf certificates on demand, one per host name, cached."""

    def __init__(self) -> None:
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        # A second, untrusted key for hosts that must fail TLS.
        self._rogue_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        self._not_before = now - dt.timedelta(days=1)
        self._not_after = now + dt.timedelta(days=30)
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Lanterne simulated web CA"))
            .issuer_name(_name("Lanterne simulated web CA"))
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        self._dir = tempfile.TemporaryDirectory(prefix="lanterne-simweb-tls-")
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.spki_hash = spki_sha256_b64(self._leaf_key)

    def close(self) -> None:
        self._dir.cleanup()

    def _leaf_pem(self, host: str, rogue: bool) -> tuple[bytes, bytes]:
        key = self._rogue_key if rogue else self._leaf_key
        try:
            import ipaddress

            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + self._ca_cert.public_bytes(
            serialization.Encoding.PEM
        )
        return chain, _pem_key(key)

    def context_for(self, host: str, rogue: bool = False) -> ssl.SSLContext:
        host = (host or "localhost").lower().rstrip(".")
        with self._lock:
            ctx = self._contexts.get((host, rogue))
            if ctx is not None:
                return ctx
            ctx = self._build_context(host, rogue)
            self._contexts[(host, rogue)] = ctx
            return ctx

    def _build_context(self, host: str, rogue: bool) -> ssl.SSLContext:
        chain, key = self._leaf_pem(host, rogue)
        stem = hashlib.sha1(f"{host}|{rogue}".encode()).hexdigest()
        cert_path = Path(self._dir.name) / f"{stem}.crt"
        key_path = Path(self._dir.name) / f"{stem}.key"
        cert_path.write_bytes(chain)
        key_path.write_bytes(key)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def server_context(self, untrusted_hosts: set[str]) -> ssl.SSLContext:
        """A context that answers each TLS handshake with the certificate for the name asked (SNI)."""
        dispatch = self._build_context("localhost", rogue=False)

        def on_sni(sock: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            name = (server_name or "localhost").lower().rstrip(".")
            sock.context = self.context_for(name, rogue=name in untrusted_hosts)

        dispatch.sni_callback = on_sni  # type: ignore[assignment]
        return dispatch

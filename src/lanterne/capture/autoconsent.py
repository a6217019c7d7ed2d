"""DuckDuckGo's autoconsent: a maintained rule set that finds cookie banners and answers them.

Autoconsent (MPL-2.0) is published on npm. Lanterne pins one release and installs the two files it needs
(the Playwright bundle and the rules) into its cache with `lanterne consent install`, checking the package
against the integrity hash npm publishes for it; `bash scripts/bootstrap.sh` does this for you.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VERSION = "16.23.0"
TARBALL = f"https://registry.npmjs.org/@duckduckgo/autoconsent/-/autoconsent-{VERSION}.tgz"
INTEGRITY = "sha512-NTmDhASFf5pUsSwg2TyT9R75GYUcuYZXPyBnRcYgJgozg6RLeXXP9uH8ADxA364yQ2gJBMu83AN/D24Y4nkPKg=="
FILES = {
    "package/dist/autoconsent.playwright.js": "autoconsent.playwright.js",
    "package/rules/rules.json": "rules.json",
    "package/LICENSE": "LICENSE",
}


class AutoconsentMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Bundle:
    script: str
    rules_json: str
    version: str


def install_dir() -> Path:
    if os.environ.get("LANTERNE_AUTOCONSENT_DIR"):
        return Path(os.environ["LANTERNE_AUTOCONSENT_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lanterne" / "autoconsent" / VERSION


def is_installed() -> bool:
    folder = install_dir()
    return all((folder / name).is_file() for name in FILES.values())


_LOADED: Bundle | None = None


def load() -> Bundle:
    global _LOADED
    if _LOADED is None:
        if not is_installed():
            raise AutoconsentMissing(
                f"autoconsent {VERSION} is not installed (needed to answer cookie banners): "
                "run `lanterne consent install`"
            )
        folder = install_dir()
        _LOADED = Bundle(
            script=(folder / "autoconsent.playwright.js").read_text(encoding="utf-8"),
            rules_json=(folder / "rules.json").read_text(encoding="utf-8"),
            version=VERSION,
        )
    return _LOADED


def install(url: str = TARBALL, timeout: float = 120) -> Path:
    """Download the pinned release, check its integrity, and keep the files Lanterne uses."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - a fixed https URL or a user mirror
        data = resp.read(50 * 1024 * 1024)
    algorithm, expected = INTEGRITY.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ValueError(f"{url}: integrity check failed (expected {INTEGRITY}, got {algorithm}-{actual})")
    folder = install_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, target in FILES.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise ValueError(f"{url}: {member} missing from the package")
            (folder / (target + ".part")).write_bytes(extracted.read())
    for target in FILES.values():
        (folder / (target + ".part")).replace(folder / target)
    (folder / "SOURCE.md").write_text(
        f"@duckduckgo/autoconsent {VERSION} from {TARBALL} ({INTEGRITY}), by DuckDuckGo, licensed under the "
        "Mozilla Public License 2.0 (LICENSE here). Used unmodified by Lanterne to answer cookie banners.\n",
        encoding="utf-8",
    )
    global _LOADED
    _LOADED = None
    return folder

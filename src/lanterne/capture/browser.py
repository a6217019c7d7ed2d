"""Finding and launching Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SYSTEM_CHROMIUM = "/usr/bin/chromium"
# Other places distributions put it (Ubuntu's snap, older Debian/Ubuntu package names).
OTHER_SYSTEM_CHROMIUMS = ("/usr/bin/chromium-browser", "/snap/bin/chromium")

# Flags for every launch. The first four keep Chromium's own traffic (updates, sync, field trials) out of the
# way; site isolation is turned off so that cross-site iframes share the page's DevTools session, which is
# where the initiator of each request is read.
BASE_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--disable-breakpad",
    "--disable-quic",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process,OptimizationHints,MediaRouter,Translate",
    "--disable-dev-shm-usage",
]


class BrowserNotFound(RuntimeError):
    pass


HOW_TO_GET_CHROMIUM = (
    "no Chromium found: install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), "
    "or pass --browser PATH, or set LANTERNE_CHROMIUM"
)


def find_browser(explicit: str | None = None) -> str:
    """The Chromium to use: --browser PATH, then $LANTERNE_CHROMIUM, then /usr/bin/chromium, then Playwright's."""
    for label, candidate in (("--browser", explicit), ("LANTERNE_CHROMIUM", os.environ.get("LANTERNE_CHROMIUM"))):
        if candidate:
            path = shutil.which(candidate) or candidate
            if not (Path(path).is_file() and os.access(path, os.X_OK)):
                raise BrowserNotFound(f"{label} {candidate}: not an executable file")
            return path
    if Path(SYSTEM_CHROMIUM).is_file() and os.access(SYSTEM_CHROMIUM, os.X_OK):
        return SYSTEM_CHROMIUM
    playwright_own = _playwright_chromium()
    if playwright_own:
        return playwright_own
    for path in OTHER_SYSTEM_CHROMIUMS:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    raise BrowserNotFound(HOW_TO_GET_CHROMIUM)


def _playwright_chromium() -> str | None:
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not root.is_dir():
        return None
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-*/headless_shell"):
        found = sorted(root.glob(pattern), reverse=True)
        if found:
            return str(found[0])
    return None

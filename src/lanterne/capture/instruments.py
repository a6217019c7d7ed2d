"""Instruments: things set up in a browser context before the first page loads.

- `ScriptProbe` installs the API wrappers of `js/probe.js` in every frame and collects what they record.
- `ConsentAgent` runs DuckDuckGo's autoconsent in every frame to find the cookie banner and, depending on
  the visit's phase, leave it alone, refuse, or accept; it then reads the IAB TCF consent string.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from playwright.async_api import BrowserContext, ConsoleMessage, Page
from playwright.async_api import Error as PlaywrightError

from lanterne.records import JsCall, Visit

PROBE_JS = Path(str(resources.files("lanterne") / "capture" / "js" / "probe.js"))
PROBE_MARK = "__lanterne_probe__"
MAX_JS_CALLS = 5000


class Instrument(Protocol):
    name: str

    async def install(self, context: BrowserContext, visit: Visit) -> None: ...

    async def collect(self, visit: Visit) -> None: ...


class ScriptProbe:
    """Records calls to fingerprinting and session-recording APIs, attributed to the calling script."""

    name = "script-probe"

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str, str], JsCall] = {}

    async def install(self, context: BrowserContext, visit: Visit) -> None:
        await context.add_init_script(script=PROBE_JS.read_text(encoding="utf-8"))
        context.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "debug":
            return
        text = message.text
        if not text.startswith(PROBE_MARK):
            return
        try:
            batch = json.loads(text[len(PROBE_MARK) :].strip())
        except json.JSONDecodeError:
            return
        frame = str(batch.get("frame", ""))[:2048] if isinstance(batch, dict) else ""
        for call in batch.get("calls", []) if isinstance(batch, dict) else []:
            if not isinstance(call, dict):
                continue
            key = (frame, str(call.get("script", ""))[:2048], str(call.get("api", ""))[:100])
            if key not in self._calls and len(self._calls) >= MAX_JS_CALLS:
                continue
            # Counts are running totals per frame: the latest report replaces the previous one.
            self._calls[key] = JsCall(
                frame_url=key[0],
                script_url=key[1],
                api=key[2],
                count=int(call.get("count") or 0),
                args=call.get("args") if isinstance(call.get("args"), list) else [],
            )

    async def collect(self, visit: Visit) -> None:
        await asyncio.sleep(0.35)  # the probe reports every 200 ms
        visit.js_calls = list(self._calls.values())


# Reads the IAB TCF v2 state from the page's CMP, without waiting forever for a broken one.
_READ_TCF = """() => new Promise((resolve) => {
  if (typeof window.__tcfapi !== 'function') { resolve(null); return; }
  let done = false;
  setTimeout(() => { if (!done) { done = true; resolve({ error: 'no answer from __tcfapi' }); } }, 2500);
  try {
    window.__tcfapi('getTCData', 2, (data, success) => {
      if (done) return;
      done = true;
      if (!success || !data) { resolve({ error: 'getTCData failed' }); return; }
      resolve({ tcString: String(data.tcString || '').slice(0, 20000), cmpId: data.cmpId, cmpVersion: data.cmpVersion,
                gdprApplies: data.gdprApplies, eventStatus: data.eventStatus, cmpStatus: data.cmpStatus });
    });
  } catch (e) { done = true; resolve({ error: String(e).slice(0, 200) }); }
})"""

PHASE_ACTIONS = {"none": None, "refuse": "optOut", "accept": "optIn"}


class ConsentAgent:
    """Finds the cookie banner with autoconsent and answers it as the visit's phase says."""

    name = "consent"

    def __init__(self, phase: str = "none", wait: float = 8.0) -> None:
        # In phase "none" nothing is waited for: detection goes on while the visit dwells, and the state is
        # read at the end. To answer, the banner must first be found: up to `wait` seconds.
        from lanterne.capture import autoconsent

        self.phase = phase
        self.action = PHASE_ACTIONS[phase]
        self.wait = wait
        self.bundle = autoconsent.load()
        self.messages: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {"phase": phase, "cmp": None, "popup": False, "answered": False}
        self._done = asyncio.Event()
        self._page: Page | None = None
        self._instances: dict[str, str] = {}  # autoconsent instance (one per frame) -> lifecycle

    async def install(self, context: BrowserContext, visit: Visit) -> None:
        visit.options["consent"] = self.state
        self.state["autoconsent"] = self.bundle.version
        await context.expose_binding("autoconsentSendMessage", self._on_message)
        await context.add_init_script(script=self.bundle.script)

    async def _on_message(self, source: dict[str, Any], message: Any) -> None:
        if not isinstance(message, dict):
            return
        frame = source.get("frame")
        kind = message.get("type")
        if len(self.messages) < 200:
            self.messages.append({k: message.get(k) for k in ("type", "cmp", "result", "url", "isCosmetic") if k in message})
        try:
            if kind == "init" and frame is not None:
                config = {
                    "enabled": True,
                    "autoAction": self.action,
                    "disabledCmps": [],
                    "enablePrehide": False,
                    "enableCosmeticRules": False,
                    "detectRetries": 8,
                    "isMainWorld": False,
                    "logs": {"lifecycle": False, "rulesteps": False, "evals": False, "errors": False, "messages": False},
                }
                await frame.evaluate(
                    f"autoconsentReceiveMessage({{ type: 'initResp', config: {json.dumps(config)}, "
                    f"rules: {{ autoconsent: {self.bundle.rules_json}.autoconsent }} }})"
                )
            elif kind == "eval" and frame is not None:
                try:
                    result = await frame.evaluate(message.get("code", "false"))
                except PlaywrightError:
                    result = False
                await frame.evaluate(
                    "(m) => autoconsentReceiveMessage(m)",
                    {"id": message.get("id"), "type": "evalResp", "result": bool(result)},
                )
            elif kind == "cmpDetected":
                self.state["cmp"] = self.state["cmp"] or message.get("cmp")
            elif kind == "popupFound":
                self.state["cmp"] = message.get("cmp") or self.state["cmp"]
                self.state["popup"] = True
            elif kind == "report":
                state = message.get("state") if isinstance(message.get("state"), dict) else {}
                self._instances[str(message.get("instanceId"))] = str(state.get("lifecycle"))
                if self._instances and all(v in ("nothingDetected", "done") for v in self._instances.values()):
                    self._done.set()  # every frame has finished looking: nothing (more) to answer
            elif kind in ("optOutResult", "optInResult"):
                self.state["result"] = bool(message.get("result"))
                if message.get("result"):
                    self.state["answered"] = True
                    self.state["answered_at"] = time.time()
            elif kind == "autoconsentDone":
                self.state["cmp"] = message.get("cmp") or self.state["cmp"]
                self._done.set()
            elif kind == "autoconsentError":
                self.state.setdefault("errors", []).append(str(message.get("details"))[:300])
        except PlaywrightError:
            pass  # the frame went away meanwhile

    async def run(self, page: Page, visit: Visit) -> None:
        """In the refuse and accept phases, wait until the banner is answered or every frame has found none."""
        self._page = page
        if self.action is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._done.wait(), self.wait)
        if self.state["answered"]:
            await asyncio.sleep(0.5)  # let the CMP store the answer and tell the page

    async def collect(self, visit: Visit) -> None:
        if self._page is not None and not self._page.is_closed():
            tcf = None
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                tcf = await asyncio.wait_for(self._page.evaluate(_READ_TCF), 5)
            if isinstance(tcf, dict):
                self.state["tcf"] = tcf
        self.state["messages"] = self.messages[:50]
        visit.options["consent"] = self.state

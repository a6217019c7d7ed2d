"""Things the visit protocol does on a page besides looking at it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from lanterne.canary import CanaryIdentity
from lanterne.records import Visit

# Which canary value goes in which field, from the field's type, name, id, autocomplete, placeholder and
# label. English and French words; checked in this order, so "email" wins over "name" in "email_name".
_FIELD_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"e-?mail|courriel|\bmail\b", re.I)),
    ("phone", re.compile(r"\btel\b|phone|mobile|portable|t[ée]l[ée]phone|\bgsm\b", re.I)),
    ("postal_code", re.compile(r"zip|postal|post_?code|code[ _-]?postal|\bcp\b", re.I)),
    ("first_name", re.compile(r"first|given|pr[ée]nom|fname|forename", re.I)),
    ("last_name", re.compile(r"last|family|surname|lname|\bnom\b|nom[_-]?de[_-]?famille", re.I)),
]

# Reads the page's text inputs: only ones a person could type into.
_LIST_INPUTS = """() => Array.from(document.querySelectorAll('input, textarea')).slice(0, 200).map((el, index) => {
  const style = window.getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const label = (el.labels && el.labels[0] && el.labels[0].innerText) || el.getAttribute('aria-label') || '';
  return {
    index,
    type: (el.getAttribute('type') || 'text').toLowerCase(),
    name: el.getAttribute('name') || '', id: el.id || '',
    autocomplete: el.getAttribute('autocomplete') || '', placeholder: el.getAttribute('placeholder') || '',
    label: String(label).slice(0, 200),
    usable: !el.disabled && !el.readOnly && style.visibility !== 'hidden' && style.display !== 'none'
            && rect.width > 0 && rect.height > 0,
  };
})"""

_TYPEABLE = {"text", "email", "tel", "search", "number", ""}


def classify_field(attributes: dict[str, str]) -> str | None:
    kind = attributes.get("type", "")
    if kind == "email":
        return "email"
    if kind == "tel":
        return "phone"
    if kind not in _TYPEABLE:
        return None
    auto = attributes.get("autocomplete", "")
    by_autocomplete = {
        "email": "email", "tel": "phone", "tel-national": "phone", "given-name": "first_name",
        "family-name": "last_name", "postal-code": "postal_code",
    }
    if auto in by_autocomplete:
        return by_autocomplete[auto]
    text = " ".join(attributes.get(k, "") for k in ("name", "id", "placeholder", "label"))
    for field_name, pattern in _FIELD_RULES:
        if pattern.search(text):
            return field_name
    return None


@dataclass
class CanaryTyping:
    """Type the visit's canary identity into the landing page's form fields, keystroke by keystroke.

    Nothing is submitted unless `submit` is set. What was typed where, and when, is stored in the visit's
    options, so that the leak detector knows what to look for and what happened before any submission.
    """

    submit: bool = False
    seed: int | None = None
    name: str = "canary-typing"
    identity: CanaryIdentity | None = field(default=None, repr=False)

    async def run(self, page: Page, visit: Visit) -> None:
        identity = self.identity or CanaryIdentity.generate(self.seed)
        visit.options["canary"] = identity.as_dict()
        visit.options["canary_fields"] = []
        inputs = await page.evaluate(_LIST_INPUTS)
        if not isinstance(inputs, list):
            return
        locator = page.locator("input, textarea")
        typed_any = None
        for item in inputs:
            if not isinstance(item, dict) or not item.get("usable"):
                continue
            attributes = {k: str(item.get(k) or "") for k in ("type", "name", "id", "autocomplete", "placeholder", "label")}
            field_name = classify_field(attributes)
            if field_name is None:
                continue
            value = identity.value(field_name)
            target = locator.nth(int(item["index"]))
            try:
                await target.click(timeout=2000)
                await target.press_sequentially(value, delay=15, timeout=5000)
                await target.press("Tab", timeout=2000)  # leaving the field fires its change event
            except PlaywrightError:
                continue
            typed_any = target
            visit.options["canary_fields"].append(
                {"field": field_name, "name": attributes["name"] or attributes["id"], "at": time.time()}
            )
        if visit.options["canary_fields"]:
            visit.options["typed_at"] = visit.options["canary_fields"][0]["at"]
        if self.submit and typed_any is not None:
            visit.options["submitted_at"] = time.time()
            try:
                await typed_any.press("Enter", timeout=2000)
                await page.wait_for_load_state("load", timeout=10_000)
            except PlaywrightError:
                pass

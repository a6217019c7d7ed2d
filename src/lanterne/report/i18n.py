"""The one message catalogue for every text people read: reports, terminal summaries, the web app.

Message ids are the English texts (the gettext convention); translations live in
`locale/<lang>/LC_MESSAGES/lanterne.po`, read with Babel when first needed. A text missing from a catalogue
shows in English rather than failing; `tests/test_i18n.py` checks that none is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "fr")
LOCALE_DIR = Path(str(resources.files("lanterne") / "report" / "locale"))


def N_(message: str) -> str:
    """Marks a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


@lru_cache(maxsize=None)
def _catalogue(lang: str) -> dict[str, str | tuple[str, ...]]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "lanterne.po"
    if lang == "en" or not path.exists():
        return {}
    with open(path, "rb") as fh:
        catalog = read_po(fh, locale=lang)
    messages: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        if isinstance(message.id, (tuple, list)):
            messages[message.id[0]] = tuple(message.string)
        else:
            messages[message.id] = message.string
    return messages


@dataclass(frozen=True)
class Translator:
    lang: str

    def gettext(self, message: str) -> str:
        found = _catalogue(self.lang).get(message)
        return found if isinstance(found, str) and found else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = _catalogue(self.lang).get(singular)
        if isinstance(found, tuple) and found:
            # French and English both use "one" for 1 and "other" otherwise (French also for 0).
            index = 0 if (n == 1 or (self.lang == "fr" and n == 0)) else min(1, len(found) - 1)
            return found[index] or (singular if n == 1 else plural)
        return singular if n == 1 else plural

    __call__ = gettext


def translator(lang: str) -> Translator:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r} (one of: {', '.join(LANGUAGES)})")
    return Translator(lang)


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """The best of our languages for an Accept-Language header."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        lang, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = lang.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, position, primary))
    return sorted(choices)[0][2] if choices else default

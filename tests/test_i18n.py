"""The catalogue: every text people read exists in French, with the same placeholders."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from lanterne.report.i18n import LOCALE_DIR, negotiate, translator
from lanterne.report.messages import extract

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_every_message_is_translated_with_the_same_placeholders() -> None:
    with open(LOCALE_DIR / "fr" / "LC_MESSAGES" / "lanterne.po", "rb") as fh:
        french = {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(fh, locale="fr") if m.id}
    used = [m for m in extract() if m.id]
    assert len(used) > 100
    for message in used:
        key = message.id if isinstance(message.id, str) else message.id[0]
        assert key in french, f"not in fr.po: {key!r} (run python -m lanterne.report.messages)"
        translated = french[key].string
        assert translated and not french[key].fuzzy, f"untranslated: {key!r}"
        for source, target in zip(
            [message.id] if isinstance(message.id, str) else list(message.id),
            [translated] if isinstance(translated, str) else list(translated),
        ):
            assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(target)), key


def test_translator_and_negotiation() -> None:
    fr = translator("fr")
    assert fr("In short") == "En bref"
    assert fr("a text that is not in the catalogue") == "a text that is not in the catalogue"
    assert fr.ngettext("%(num)s site", "%(num)s sites", 2) == "%(num)s sites"
    assert negotiate("fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert negotiate("de-DE,en;q=0.5,fr;q=0.4") == "en"
    assert negotiate("de-DE") == "en" and negotiate(None) == "en"

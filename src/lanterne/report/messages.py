"""Extracting the catalogue's messages from the code and templates, and keeping translations in step.

`python -m lanterne.report.messages` rewrites `locale/lanterne.pot` and merges it into each language's
`.po` file (new messages appear untranslated; translations of messages still in use are kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from lanterne.report.i18n import LANGUAGES, LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent.parent
SOURCES = [PACKAGE / "report", PACKAGE / "web", PACKAGE / "topics"]
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")]
KEYWORDS = {"_": None, "t": None, "gettext": None, "N_": None, "ngettext": (1, 2)}
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}


def extract() -> Catalog:
    catalog = Catalog(project="lanterne", charset="utf-8")
    for source in SOURCES:
        if not source.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(source), METHOD_MAP, options_map=OPTIONS, keywords=KEYWORDS
        ):
            catalog.add(message, None, [(str(source.name + "/" + filename), lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> None:
    template = extract()
    with open(LOCALE_DIR / "lanterne.pot", "wb") as fh:
        write_po(fh, template, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        if lang == "en":
            continue
        path = LOCALE_DIR / lang / "LC_MESSAGES" / "lanterne.po"
        if path.exists():
            with open(path, "rb") as fh:
                catalog = read_po(fh, locale=lang)
        else:
            catalog = Catalog(locale=lang, project="lanterne", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            write_po(fh, catalog, sort_output=True, ignore_obsolete=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{path}: {len(catalog)} messages, {len(missing)} untranslated", file=sys.stderr)


if __name__ == "__main__":
    update()

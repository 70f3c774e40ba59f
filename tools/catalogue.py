"""Working on the message catalogues (toolhut/i18n/locale) without hand-editing .po files.

    python tools/catalogue.py update                 extract every marked text (code and
                                                     templates), add the new ones to each
                                                     .po, compile the .mo files
    python tools/catalogue.py missing [LANG]        the ids with no translation yet
    python tools/catalogue.py set LANG FILE          translations from FILE, one per line:
                                                     English id <TAB> translation
    python tools/catalogue.py union OURS THEIRS OUT  a merged .po: every entry of both,
                                                     a translation kept from either

``make messages`` runs ``update``. A development tool (it needs Babel);
the product reads only the compiled catalogues, with the standard library."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "toolhut" / "i18n" / "locale"
SOURCES = ("toolhut", "firmware_bridge", "hut_gateway", "server", "labels", "toolhut_cli")
LANGUAGES = ("zh_CN", "en")


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "toolhut.po"


def load(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def save(catalog: Catalog, path: Path) -> None:
    with path.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False, sort_output=True, no_location=True)
    with path.with_suffix(".mo").open("wb") as f:
        write_mo(f, catalog)


def _put(catalog: Catalog, msgid: str, text: str) -> None:
    """Sets the translation (Catalog.add keeps an existing entry's string)."""
    current = catalog.get(msgid)
    if current is None:
        catalog.add(msgid, text)
    else:
        current.string = text


def update() -> None:
    pybabel = [sys.executable, "-m", "babel.messages.frontend", "-q"]
    with tempfile.TemporaryDirectory() as tmp:
        pot = str(Path(tmp) / "toolhut.pot")
        run = [*pybabel, "extract", "-F", "babel.cfg", "-k", "bilingual", "--no-location"]
        run += ["--sort-output", "--no-wrap", "--project", "toolhut", "-o", pot, *SOURCES]
        subprocess.run(run, cwd=ROOT, check=True)
        for lang in LANGUAGES:
            subprocess.run(
                [*pybabel, "update", "-i", pot, "-d", str(LOCALE), "-D", "toolhut", "-l", lang,
                 "--no-fuzzy-matching", "--ignore-obsolete", "--ignore-pot-creation-date",
                 "--no-wrap"],
                cwd=ROOT, check=True,
            )  # fmt: skip
    subprocess.run([*pybabel, "compile", "-d", str(LOCALE), "-D", "toolhut"], cwd=ROOT, check=True)
    untranslated = sum(1 for m in load(po_path("zh_CN")) if m.id and not m.string)
    if untranslated:
        print(f"{untranslated} texts have no Chinese yet: python tools/catalogue.py missing")


def missing(lang: str) -> None:
    for message in load(po_path(lang)):
        if message.id and not message.string:
            print(message.id)


def set_from(lang: str, source: Path) -> None:
    catalog = load(po_path(lang))
    count = 0
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        msgid, _, text = line.partition("\t")
        if not text:
            sys.exit(f"no TAB on the line: {line!r}")
        _put(catalog, msgid, text)
        count += 1
    save(catalog, po_path(lang))
    print(f"{count} translations set in {po_path(lang)}")


def union(ours: Path, theirs: Path, out: Path) -> None:
    merged = load(ours)
    for message in load(theirs):
        if not message.id:
            continue
        mine = merged.get(message.id)
        if mine is None or not mine.string:
            _put(merged, str(message.id), str(message.string or ""))
    save(merged, out)


def main(argv: list[str]) -> None:
    match argv:
        case ["update"]:
            update()
        case ["missing"]:
            missing("zh_CN")
        case ["missing", lang]:
            missing(lang)
        case ["set", lang, source]:
            set_from(lang, Path(source))
        case ["union", ours, theirs, out]:
            union(Path(ours), Path(theirs), Path(out))
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

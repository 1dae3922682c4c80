"""Translation catalogue helper.

    .venv/bin/python scripts/i18n.py status      # untranslated / fuzzy entries per language
    .venv/bin/python scripts/i18n.py fill-en     # English catalogue: msgstr = msgid where empty or fuzzy
    .venv/bin/python scripts/i18n.py set zh_Hans "msgid" "译文" [--context ctx]
    .venv/bin/python scripts/i18n.py compile     # write the .mo files (no gettext needed)

Run `make messages` first to extract new strings; see locale/GLOSSARY.md for the terms.
"""

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"
LANGS = ("zh_Hans", "en")


def po(lang: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"), wrapwidth=79)


def incomplete(catalogue: polib.POFile) -> list[polib.POEntry]:
    return [e for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd == "status":
        bad = 0
        for lang in LANGS:
            for entry in incomplete(po(lang)):
                bad += 1
                ctx = f" [{entry.msgctxt}]" if entry.msgctxt else ""
                print(f"{lang}: {entry.msgid!r}{ctx}")
        return 1 if bad else 0
    if cmd == "fill-en":
        catalogue = po("en")
        for entry in incomplete(catalogue):
            if entry.msgid_plural:
                entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
            else:
                entry.msgstr = entry.msgid
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            entry.previous_msgid = None
        catalogue.save()
        return 0
    if cmd == "set":
        lang, msgid, text = argv[1], argv[2], argv[3]
        ctx = argv[5] if len(argv) > 5 and argv[4] == "--context" else None
        catalogue = po(lang)
        entry = catalogue.find(msgid, msgctxt=ctx) if ctx else catalogue.find(msgid)
        if entry is None:
            print(f"no entry {msgid!r}", file=sys.stderr)
            return 1
        if entry.msgid_plural:
            entry.msgstr_plural = {0: text}
        else:
            entry.msgstr = text
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = None
        entry.previous_msgctxt = None
        catalogue.save()
        return 0
    if cmd == "compile":
        for lang in LANGS:
            catalogue = po(lang)
            catalogue.save_as_mofile(str(LOCALE / lang / "LC_MESSAGES" / "django.mo"))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

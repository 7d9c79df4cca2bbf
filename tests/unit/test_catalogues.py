"""The catalogues are complete: every string marked in the code and the templates has a
non-empty, non-fuzzy Japanese entry, the shipped .mo says what the .po says, and no
template shows English that was never marked for translation."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "idp" / "translations"
LANGUAGES = ["ja"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3)}


def _msgid(message: str | tuple) -> str:
    return message[0] if isinstance(message, tuple) else message


def _not_hidden(path: str) -> bool:
    """Babel skips folders named _*; templates/_macros holds strings too (so does the Makefile)."""
    name = Path(path).name
    return not name.startswith(".") and name != "__pycache__"


def extracted() -> dict[str, str]:
    """msgid → where it was found, read the way `make messages` reads the sources."""
    found: dict[str, str] = {}
    for folder, methods in (("idp", [("**.py", "python")]), ("templates", [("**.html", "jinja2"), ("**.txt", "jinja2")])):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / folder, methods, keywords=KEYWORDS, directory_filter=_not_hidden,
        ):
            found.setdefault(_msgid(message), f"{folder}/{filename}:{lineno}")
    return found


def catalogue(language: str):
    with open(CATALOGUES / language / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_has_a_translation(language):
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalogue(language) if m.id}
    missing = {msgid: where for msgid, where in extracted().items() if msgid not in entries}
    assert not missing, f"not in the {language} catalogue (run `make messages`): {missing}"
    empty = [m.id for m in entries.values()
             if not (all(m.string) if isinstance(m.string, (tuple, list)) else m.string)]
    assert not empty, f"empty {language} entries: {empty}"
    fuzzy = [m.id for m in entries.values() if m.fuzzy]
    assert not fuzzy, f"fuzzy {language} entries (check and clear the flag): {fuzzy}"


def _entries(cat) -> dict:
    def plain(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value
    return {plain(m.id): plain(m.string) for m in cat if m.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_shipped_mo_matches_the_po(language):
    po = catalogue(language)
    compiled = io.BytesIO()
    write_mo(compiled, po)
    compiled.seek(0)
    with open(CATALOGUES / language / "LC_MESSAGES" / "messages.mo", "rb") as f:
        shipped = read_mo(f)
    fresh = read_mo(compiled)
    assert _entries(shipped) == _entries(fresh), "stale .mo: run `make translations`"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_survive_translation(language):
    """A translation that drops or renames %(name)s would raise, or lose the value, at render."""
    named = re.compile(r"%\((\w+)\)s")
    wrong = []
    for m in catalogue(language):
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        expected = set(named.findall(ids[-1]))
        if any(set(named.findall(s)) != expected for s in strings):
            wrong.append(m.id)
    assert not wrong, wrong


# Text a template may show untranslated: names, codes and symbols that read the same in
# every language.
LITERAL_OK = {"idp", "OpenID", "TOTP", "WebAuthn", "OAuth", "OIDC", "JWKS", "JSON", "CSV", "PKCE", "URI", "URL",
              "ID", "RS256", "ES256", "EdDSA", "pwd", "mfa", "phr", "kid", "alg", "acr", "amr", "sub",
              "client_id", "client_secret"}
# Attributes a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = re.compile(r'\b(?:title|placeholder|aria-label|alt|aria-description)="([^"]*)"')
TAG = re.compile(r"<[^>]*>", re.S)
CODE = re.compile(r"<code\b[^>]*>.*?</code>", re.S)
WORD = re.compile(r"[A-Za-z][\w'’-]+")


def _unmarked_words(source: str) -> list[str]:
    """The words of a template's own text (between tags, and in attributes people read),
    with every {{ … }} and {% … %} replaced by a blank."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    pieces, in_code = [], False
    for _line, kind, value in env.lex(source):
        if kind == "data":
            pieces.append(value)
            in_code = False
        elif not in_code:
            pieces.append("\x00")
            in_code = True
    skeleton = "".join(pieces)
    words = [w for value in READ_ATTRIBUTES.findall(skeleton) for w in WORD.findall(value)]
    skeleton = CODE.sub(" ", skeleton)  # <code>: identifiers, paths and values, the same in every language
    text = re.sub(r"&\w+;|\b\w+=", " ", TAG.sub(" ", skeleton))
    words += WORD.findall(text)
    return [w for w in words if w not in LITERAL_OK]


def test_no_template_shows_unmarked_english():
    offenders = {}
    for path in sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "templates").rglob("*.txt")]):
        words = _unmarked_words(path.read_text())
        if words:
            offenders[str(path.relative_to(ROOT))] = words[:8]
    assert not offenders, f"wrap these in _(): {offenders}"


def test_the_unmarked_text_check_sees_text_and_attributes():
    assert _unmarked_words('<p title="Close">{{ _("Hello") }} world</p>') == ["Close", "world"]
    assert _unmarked_words('<p class="muted" id="x">{{ _("Hello") }}</p>') == []
    assert _unmarked_words('<p>{{ _("Key:") }} <code>{{ key }} ABC</code> <a href="?{{ q }}">x=</a></p>') == []

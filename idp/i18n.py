"""Which language a page speaks, and how it writes dates: Flask-Babel's selectors and the
helpers templates, mails and the WebAuthn script use.

The choice costs no I/O: it reads the request (its `ui_locales`, the language cookie, the
`Accept-Language` header) and what a view already loaded (a flow's `ui_locales`), and
Flask-Babel makes it at most once per request, when the first string is translated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from urllib.parse import urlencode

from babel import dates as babel_dates
from flask import Flask, g, has_request_context, request
from babel.support import NullTranslations
from flask_babel import Babel, force_locale, get_locale, get_translations, gettext, ngettext, refresh
from markupsafe import Markup

from .texts import Text

#: What `ui_locales_supported` advertises (OIDC Discovery §3) and the switch offers.
LANGUAGES = ("en", "ja")
DEFAULT = "en"
#: Holds nothing but "en" or "ja": anything else is ignored, so it cannot carry an identifier.
COOKIE = "idp_lang"
COOKIE_MAX_AGE = 365 * 86400
#: How each language names itself on the switch (never translated).
NAMES = {"en": "English", "ja": "日本語"}


def first_supported(ui_locales: str | None) -> str | None:
    """The first of a space-separated list of BCP 47 tags (OIDC Core §3.1.2.1 `ui_locales`,
    in order of preference) that we speak; `ja-JP` counts as `ja`."""
    for tag in (ui_locales or "").split()[:10]:
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return None


def cookie_language(value: str | None) -> str | None:
    return value if value in LANGUAGES else None


def use_ui_locales(ui_locales: str | None) -> None:
    """A view that loaded an authorization request hands its `ui_locales` over here; it
    wins over the cookie and the header for the rest of the request."""
    g.idp_ui_locales = ui_locales
    refresh()  # in case something was translated already


def select_locale() -> str:
    """`ui_locales` (of the request, or of the flow a view loaded), then the switch's
    cookie, then `Accept-Language`, then English."""
    if not has_request_context():
        return DEFAULT
    return (
        first_supported(g.get("idp_ui_locales"))
        or cookie_language(request.cookies.get(COOKIE))
        or request.accept_languages.best_match(LANGUAGES)
        or DEFAULT
    )


def current() -> str:
    return str(get_locale() or DEFAULT)


@contextmanager
def language(code: str | None) -> Iterator[None]:
    """Translate in `code` (a person's language, for a mail) whatever the request says."""
    with force_locale(code if code in LANGUAGES else DEFAULT):
        yield


def _as_datetime(value: datetime | int | float) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def format_when(value: datetime | int | float | None, format: str = "medium") -> str:
    """A date and time for the reader's language, in UTC with the zone written out: the
    server does not know the reader's time zone (mails, pages without script)."""
    if value is None:
        return ""
    moment = _as_datetime(value).astimezone(timezone.utc)
    return f"{babel_dates.format_datetime(moment, format, tzinfo=timezone.utc, locale=current())} UTC"


def when(value: datetime | int | float | None, format: str = "medium") -> Markup:
    """The `|when` filter: the UTC text inside a <time> element, which static/localtime.js
    rewrites in the browser's own time zone (the viewer's zone, where it is known)."""
    if value is None:
        return Markup("")
    moment = _as_datetime(value)
    iso = moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}" data-local="{}">{}</time>').format(iso, format, format_when(moment, format))


#: What a page's address keeps when the switch sends the browser back to it: the flow it
#: belongs to, or the page it continues to. The rest is dropped, so a link's ?done= or
#: ?error= text is never echoed into our pages (issue 9, item 13).
KEPT_PARAMETERS = ("flow", "next")


def back_here() -> str:
    """This page's address, for the language switch to come back to (an authorization
    request, say an error page of one, is asked again whole)."""
    if request.endpoint == "oauth.authorize":
        return request.full_path.rstrip("?")
    kept = [(name, request.args[name]) for name in KEPT_PARAMETERS if name in request.args]
    return request.path + ("?" + urlencode(kept, safe="/") if kept else "")


def catalogue() -> NullTranslations:
    """This request's translations, for the templates' `_()`.

    Flask-Babel's get_translations() cost 27 µs a string on the benchmark's machine (three
    lookups of its request namespace, and the locale's identifier formatted as its cache
    key), and a page translates about 20. The result is kept on that namespace as
    `babel_translations`, the attribute Flask-Babel's own force_locale() clears and
    restores, and refresh() deletes: a mail composed in its reader's language in the
    middle of a request gets that language's. Without the namespace (another Flask-Babel),
    every string takes the slow path, which is still right."""
    space = g.get("_flask_babel")
    kept = getattr(space, "babel_translations", None)
    if kept is None:
        kept = get_translations()
        space = g.get("_flask_babel")
        if space is not None:
            space.babel_translations = kept
    return kept


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_domain="messages",
          default_translation_directories="translations")
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalogue().ugettext(s),
        ngettext=lambda s, p, n: catalogue().ungettext(s, p, n),
        pgettext=lambda c, s: catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalogue().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["when_text"] = format_when  # mail: text, no markup
    app.jinja_env.globals.update(current_language=current, language_back=back_here, language_names=NAMES, languages=LANGUAGES)


def try_again_in(seconds: int) -> str:
    """The lockout's sentence, with its wait (Retry-After, RFC 6585 §4)."""
    return ngettext("Too many attempts. Try again in %(num)d second.",
                    "Too many attempts. Try again in %(num)d seconds.", seconds)


def explain(error: BaseException | str) -> str:
    """An error's sentence in the reader's language: domain errors carry idp.texts.Text;
    anything else is shown as it is."""
    text = error.args[0] if isinstance(error, BaseException) and error.args else error
    if isinstance(text, Text):
        translated = gettext(text.template)
        if not text.params:
            return translated
        return translated % {k: explain(v) if isinstance(v, Text) else v for k, v in text.params.items()}
    return str(text)

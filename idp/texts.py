"""Sentences the domain puts in its errors, marked for translation without importing the
web stack: `N_("…%(name)s…", name=value)` is the English text (what logs and the CLI
print) and remembers its template, so a page can show it in the reader's language
(idp.i18n.explain). `pybabel extract` finds the N_ calls."""

from __future__ import annotations

from typing import Any


class Text(str):
    """English text that knows the template and values it was made from."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: dict[str, Any]) -> Text:
        text = super().__new__(cls, template % params if params else template)
        text.template, text.params = template, params
        return text


def N_(template: str, **params: Any) -> Text:  # noqa: N802 (gettext's name for "mark only")
    return Text(template, params)

"""One-time messages of the account page and the console ("Done: saved."): flashed into
the server-side session and shown by the next page, never carried in the URL, so that a
link cannot make our own pages say what its author wants (issue 9, item 13)."""

from __future__ import annotations

from flask import flash, get_flashed_messages

DONE, ERROR = "done", "error"


def done(message: str) -> None:
    flash(message, DONE)


def refused(message: str) -> None:
    flash(message, ERROR)


def taken() -> dict[str, str]:
    """The messages waiting for this page, by kind (the last of each); they are shown once."""
    return dict(get_flashed_messages(with_categories=True))

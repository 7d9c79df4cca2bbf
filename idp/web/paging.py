"""Console lists, a page at a time (`?page=N`), knowing whether another page follows
without counting the whole table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

from ..extensions import db

PAGE = 50
LAST_PAGE = 10_000  # nobody pages that far; an absurd offset costs the database a scan


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_of(query: Any, size: int = PAGE) -> Page:
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), LAST_PAGE)
    rows = list(db.session.scalars(query.limit(size + 1).offset((number - 1) * size)))
    return Page(rows[:size], number, len(rows) > size)

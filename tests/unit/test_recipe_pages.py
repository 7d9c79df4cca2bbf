"""The recipe pages show the very files the e2e tests run (tests/e2e/test_recipes.py), and
each registers its client with one `idp clients create` line that the CLI accepts."""

from __future__ import annotations

import pytest

from idp.cli import clients
from tests.recipe_docs import RECIPES, embedded, pages, registration

WEB_APP_PAGES = ["flask-authlib.md", "node-openid-client.md"]


def _code_files() -> list[str]:
    return sorted(
        str(path.relative_to(RECIPES)) for suffix in ("*.py", "*.mjs")
        for path in RECIPES.rglob(suffix) if "node_modules" not in path.parts
    )


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_embedded_code_is_the_file(page):
    for name, shown in embedded(page).items():
        assert (RECIPES / name).is_file(), f"{page.name} embeds {name}, which does not exist"
        assert shown == (RECIPES / name).read_text(), (
            f"{page.name} shows an old {name}: run `python -m tests.recipe_docs` to copy docs/recipes/{name} into it"
        )


def test_every_recipe_file_is_shown_on_a_page():
    shown = {name for page in pages() for name in embedded(page)}
    assert set(_code_files()) <= shown, set(_code_files()) - shown


@pytest.mark.parametrize("name", WEB_APP_PAGES)
def test_registration_line_parses(name):
    words = registration(RECIPES / name)
    assert words[:2] == ["clients", "create"] and "--json" in words
    assert "--public" not in words  # server-side apps: confidential clients
    # Click parses the line as `idp clients create` would, without running it.
    params = clients.get_command(None, "create").make_context("create", words[2:]).params
    assert params["redirect_uris"] and params["logout_uris"]

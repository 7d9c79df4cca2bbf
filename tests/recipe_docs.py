"""The recipes of docs/recipes/ as their pages show them: the code each page embeds, and the
`idp clients create` line that registers its client. The tests run exactly these, so what
the pages say and what is proven cannot drift apart."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "docs" / "recipes"

# A page embeds a file as `<!-- file: flask_authlib/app.py -->` then a fenced block.
_EMBEDDED = re.compile(r"^<!-- file: (\S+) -->\n```[\w-]*\n(.*?)^```$", re.M | re.S)
_REGISTRATION = re.compile(r"^(idp clients create (?:.*\\\n)*.*)$", re.M)


def pages() -> list[Path]:
    return sorted(RECIPES.glob("*.md"))


def embedded(page: Path) -> dict[str, str]:
    """The files a page shows, by their path under docs/recipes/, as the page shows them."""
    return {name: body for name, body in _EMBEDDED.findall(page.read_text())}


def registration(page: Path, origins: dict[str, str] | None = None) -> list[str]:
    """The page's `idp clients create …` line as the shell splits it, without the leading
    `idp`, with each documented origin (http://localhost:5002) replaced by the test's."""
    found = _REGISTRATION.findall(page.read_text())
    assert len(found) == 1, f"{page.name} should show one `idp clients create` line, not {len(found)}"
    words = shlex.split(found[0].replace("\\\n", " "))
    for documented, actual in (origins or {}).items():
        words = [w.replace(documented, actual) if w.startswith(documented) else w for w in words]
    return words[1:]


def sync() -> list[str]:
    """Copies each embedded file into its page's block again; returns the pages changed."""
    changed = []
    for page in pages():
        text = page.read_text()

        def current(match: re.Match) -> str:
            opening = match.group(0).split("\n", 2)
            return f"{opening[0]}\n{opening[1]}\n{(RECIPES / match.group(1)).read_text()}```"

        new = _EMBEDDED.sub(current, text)
        if new != text:
            page.write_text(new)
            changed.append(page.name)
    return changed


if __name__ == "__main__":
    # python -m tests.recipe_docs: after editing a recipe's file, update its page.
    print("\n".join(sync()) or "every page is up to date")

"""Times on pages: written by the server in UTC with the zone shown, then rewritten by
static/localtime.js in the viewer's own time zone and the page's language."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html><html lang="{lang}"><body>
<time id="t" datetime="2026-12-01T13:05:09Z" data-local="medium">Dec 1, 2026, 1:05:09 PM UTC</time>
</body></html>"""


@pytest.mark.parametrize(("zone", "lang", "expected"), [
    ("Asia/Tokyo", "ja", "2026/12/01 22:05:09 JST"),
    ("Europe/Paris", "en", "Dec 1, 2026, 2:05:09 PM GMT+1"),
])
def test_times_are_shown_in_the_viewers_zone(browser, live_server, zone, lang, expected):
    context = browser.new_context(timezone_id=zone)
    try:
        page = context.new_page()
        page.set_content(PAGE.format(lang=lang))
        page.add_script_tag(url=live_server.url + "/static/localtime.js")
        # ICU versions differ on the space before PM (U+202F or a plain one).
        assert page.locator("#t").text_content().replace("\u202f", " ") == expected
        assert page.locator("#t").get_attribute("title") == "2026-12-01T13:05:09Z"
    finally:
        context.close()


def test_without_script_the_utc_text_stays(browser, live_server):
    context = browser.new_context(timezone_id="Asia/Tokyo", java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_content(PAGE.format(lang="en"))
        assert page.locator("#t").text_content() == "Dec 1, 2026, 1:05:09 PM UTC"
    finally:
        context.close()

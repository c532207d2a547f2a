"""Browser fixtures: one headless Debian Chromium per session, a fresh context per person,
a real daphne serving the seeded demo (seed_demo), sign-in through the real login form."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command

from rooms.models import User
from tests.conftest import REPO, ServerProcess

PASSWORD = "pw-for-tests-only"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

sync_api = pytest.importorskip("playwright.sync_api")

# Playwright's sync API keeps an event loop running in this thread while it is started, which
# makes Django refuse database calls from the test body; they are plain synchronous calls here,
# so they are allowed while the browser runs (in this test process only: the flag is taken out
# of the daphne processes' environment). The browser is closed at the end of this package, so
# that neither its loop nor the flag reaches the async tests that run after it.
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (bin/check installs Debian's chromium)")
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        os.environ.pop(ASYNC_UNSAFE, None)


@dataclass
class Site:
    server: ServerProcess
    browser: Any
    contexts: list[Any]

    @property
    def url(self) -> str:
        return self.server.http

    def page_for(
        self, username: str | None, *, viewport: dict[str, int] = DESKTOP, **options: Any
    ) -> Any:
        """A new browser context (its own cookies) signed in as ``username`` via the form."""
        context = self.browser.new_context(viewport=viewport, locale="en-US", **options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page_errors: list[str] = []
        page.page_errors = page_errors  # type: ignore[attr-defined]
        if username is not None:
            page.goto(f"{self.url}/accounts/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{self.url}/rooms/")
        return page

    def open_room(self, page: Any, slug: str = "evening-circle") -> None:
        page.goto(f"{self.url}/rooms/{slug}/")
        page.wait_for_selector("#status[data-state=online]")


@pytest.fixture
def site(start_daphne: Callable[..., ServerProcess], browser: Any) -> Iterator[Site]:
    call_command("seed_demo", password=PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    # The test process hashes with MD5 for speed, which daphne's settings do not accept; a
    # cheap PBKDF2 hash (the iteration count travels in the hash) is verified by both.
    cheap = PBKDF2PasswordHasher().encode(PASSWORD, "browser-salt", iterations=1000)
    User.objects.update(password=cheap)
    os.environ.pop(ASYNC_UNSAFE, None)
    try:
        server = start_daphne()
    finally:
        os.environ[ASYNC_UNSAFE] = "true"
    made = Site(server=server, browser=browser, contexts=[])
    yield made
    for context in made.contexts:
        context.close()


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    The script is evaluated (not added as a <script> tag), so the page's strict CSP stays on.
    """
    if not AXE.exists():
        pytest.fail("node_modules/axe-core is missing: run `npm ci` (bin/check does)")
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]

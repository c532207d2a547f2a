"""Every page: axe-core finds no serious or critical violation, the CSP is strict, and each
page is photographed at a phone and a desktop width (docs/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, Site, run_axe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HIGH = "i keep thinking everyone would be better off without me"
IMMINENT = "I have the pills here, tonight is the night"
CHAT = [
    ("sam", "Evening, everyone. Long day, but I made it to my walk."),
    ("fran", "Welcome, Sam. Proud of you for the walk. How is everyone arriving tonight?"),
    ("jordan", "A bit tired. Three weeks today, though."),
]


def check(page: Any, name: str) -> None:
    """No serious or critical axe violation; no inline script; a CSP header is in force."""
    violations = run_axe(page)
    assert violations == [], f"{name}: {violations}"
    assert page.eval_on_selector_all("script:not([src])", "ns => ns.length") == 0


def shoot(page: Any, name: str, viewport: dict[str, int]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    label = "phone" if viewport == PHONE else "desktop"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=False)


def say(site: Site, page: Any, body: str) -> None:
    page.fill("textarea[name=body]", body)
    page.press("textarea[name=body]", "Enter")
    page.wait_for_selector("#messages .message.own:not(.pending) >> nth=-1")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_passes_axe_and_is_photographed(site: Site, viewport: dict[str, int]) -> None:
    # Login.
    anonymous = site.page_for(None, viewport=viewport)
    response = anonymous.goto(f"{site.url}/accounts/login/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    check(anonymous, "login")
    shoot(anonymous, "login", viewport)

    # A conversation to show, and a flag and an escalation for the staff pages.
    speakers = {name: site.page_for(name, viewport=viewport) for name, _ in CHAT}
    for name, body in CHAT:
        site.open_room(speakers[name])
        say(site, speakers[name], body)

    # The room list and the join page (as a new participant who is not in the group yet).
    morgan = site.page_for("morgan", viewport=viewport)
    check(morgan, "rooms (mentor)")
    alex = site.page_for("alex", viewport=viewport)
    check(alex, "rooms")
    shoot(alex, "rooms", viewport)
    newcomer = site.page_for("jordan", viewport=viewport)
    newcomer.goto(f"{site.url}/rooms/")
    from rooms.models import Membership

    Membership.objects.filter(user__username="jordan", room__slug="evening-circle").delete()
    newcomer.goto(f"{site.url}/rooms/evening-circle/join/")
    check(newcomer, "join")
    shoot(newcomer, "join", viewport)

    # The room, with a few messages and then the support panel open.
    site.open_room(alex)
    alex.wait_for_selector(f"#messages .message .body:text-is('{CHAT[-1][1]}')")
    check(alex, "room")
    shoot(alex, "room", viewport)
    say(site, alex, HIGH)
    alex.wait_for_selector("#support:not([hidden])")
    alex.evaluate("document.getElementById('support').scrollIntoView()")
    check(alex, "room with support")
    shoot(alex, "room-support", viewport)

    # Staff: the facilitator with a flag, on-call with an escalation.
    fran = site.page_for("fran", viewport=viewport)
    fran.goto(f"{site.url}/staff/")
    fran.wait_for_selector("#flags li.flag")
    check(fran, "staff (facilitator)")
    shoot(fran, "staff-facilitator", viewport)
    casey = site.page_for("casey", viewport=viewport)
    casey.goto(f"{site.url}/staff/")
    casey.wait_for_selector("#staff-status:text-is('Live')")
    say(site, alex, IMMINENT)
    casey.wait_for_selector("#escalations li.escalation")
    check(casey, "staff (on call)")
    shoot(casey, "staff-oncall", viewport)
    for page in [anonymous, alex, fran, casey, newcomer, *speakers.values()]:
        assert page.page_errors == []

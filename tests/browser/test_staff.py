"""Facilitators and on-call staff in a real Chromium: flags, hiding, escalations."""

from __future__ import annotations

import pytest

from moderation.models import Escalation, EscalationState
from tests.browser.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMMINENT = "I have the pills here, tonight is the night"


def test_a_facilitator_sees_a_report_live_and_hides_the_message_from_everyone(site: Site) -> None:
    fran = site.page_for("fran")
    fran.goto(f"{site.url}/staff/")
    fran.wait_for_selector("#staff-status:text-is('Live')")
    alex, sam = site.page_for("alex"), site.page_for("sam")
    site.open_room(alex)
    site.open_room(sam)
    sam.fill("textarea[name=body]", "nobody here cares, you are all useless")
    sam.press("textarea[name=body]", "Enter")
    alex.fill("textarea[name=body]", "a kind reply that stays")
    alex.press("textarea[name=body]", "Enter")
    target = "#messages .message .body:text-is('nobody here cares, you are all useless')"
    alex.wait_for_selector(target)
    sam.wait_for_selector("#messages .message .body:text-is('a kind reply that stays')")
    alex.locator("#messages .message:not(.own) button.report").first.click()
    alex.click(".report-form button[type=submit]")
    flag = fran.wait_for_selector("#flags li.flag", timeout=5000)
    assert "useless" in flag.inner_text()
    fran.locator("#flags li.flag button:text-is('Hide')").first.click()
    alex.wait_for_selector(target, state="detached", timeout=5000)
    sam.wait_for_selector(target, state="detached", timeout=5000)
    fran.wait_for_selector("#flags li.flag", state="detached", timeout=5000)
    # Everything else is still there.
    assert alex.locator("#messages .message .body:text-is('a kind reply that stays')").count() == 1
    assert sam.locator("#messages .message .body:text-is('a kind reply that stays')").count() == 1


def test_a_facilitator_sees_who_is_in_the_room(site: Site) -> None:
    fran = site.page_for("fran")
    fran.goto(f"{site.url}/staff/")
    fran.wait_for_selector("#staff-status:text-is('Live')")
    present = "[data-present='evening-circle']"
    fran.wait_for_selector(f"{present}:text-is('Nobody is in the room right now.')")
    alex_here = "[data-member='alex'] .here"
    assert not fran.locator(alex_here).is_visible()
    alex = site.page_for("alex")
    site.open_room(alex)
    fran.wait_for_selector(f"{present}:has-text('Alex')", timeout=5000)
    fran.wait_for_selector(alex_here, state="visible", timeout=5000)
    alex.close()
    fran.wait_for_selector(f"{present}:text-is('Nobody is in the room right now.')", timeout=5000)
    fran.wait_for_selector(alex_here, state="hidden", timeout=5000)


def test_a_facilitator_pauses_the_room_and_participants_are_told(site: Site) -> None:
    fran = site.page_for("fran")
    fran.goto(f"{site.url}/staff/")
    fran.wait_for_selector("#staff-status:text-is('Live')")
    alex = site.page_for("alex")
    site.open_room(alex)
    fran.click("button[data-action='room.lock'][data-locked=true]")
    alex.wait_for_selector("#room-state:not([hidden])", timeout=5000)
    assert "paused" in alex.locator("#room-state").inner_text()


def test_an_oncall_member_acknowledges_and_resolves_an_escalation(site: Site) -> None:
    casey = site.page_for("casey")
    casey.goto(f"{site.url}/staff/")
    casey.wait_for_selector("#staff-status:text-is('Live')")
    alex = site.page_for("alex")
    site.open_room(alex)
    alex.fill("textarea[name=body]", IMMINENT)
    alex.press("textarea[name=body]", "Enter")
    card = casey.wait_for_selector("#escalations li.escalation", timeout=5000)
    casey.wait_for_selector("#alert:not([hidden])")
    assert "escalation" in casey.locator("#alert").inner_text().lower()
    assert "Acknowledge within" in card.inner_text()
    assert "Evening circle" in card.inner_text()
    casey.locator("#escalations button:text-is('Acknowledge')").click()
    casey.wait_for_selector("#escalations li.escalation[data-state=acknowledged]", timeout=5000)
    escalation = Escalation.objects.get()
    assert escalation.state == EscalationState.ACKNOWLEDGED
    casey.locator("#escalations button:text-is('Resolve…')").click()
    casey.fill("#escalations textarea[name=note]", "Called Alex; safe with family tonight.")
    casey.locator("#escalations form.resolve button[type=submit]").click()
    casey.wait_for_selector("#escalations li.escalation", state="detached", timeout=5000)
    escalation.refresh_from_db()
    assert escalation.state == EscalationState.RESOLVED


def test_the_staff_page_is_for_staff_only(site: Site) -> None:
    alex = site.page_for("alex")
    response = alex.goto(f"{site.url}/staff/")
    assert response.status == 403

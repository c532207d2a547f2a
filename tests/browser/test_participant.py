"""Participants in a real Chromium: live chat, crisis support, reports, reconnects, consent."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chat.models import Message
from rooms.models import Membership, Room
from tests.browser.conftest import Site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HIGH = "i keep thinking everyone would be better off without me"


def bodies(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#messages .message .body", "nodes => nodes.map(n => n.textContent)"
    )


def test_enter_sends_and_it_appears_on_the_other_screen_within_a_second(site: Site) -> None:
    alex, sam = site.page_for("alex"), site.page_for("sam")
    site.open_room(alex)
    site.open_room(sam)
    box = alex.locator("textarea[name=body]")
    box.fill("Hello everyone, today was a better day.")
    started = time.monotonic()
    box.press("Enter")
    sam.wait_for_selector(
        "#messages .message .body:text-is('Hello everyone, today was a better day.')", timeout=1000
    )
    assert time.monotonic() - started < 1.0
    assert box.input_value() == ""
    # On alex's screen: shown at once, then confirmed by the ack (no longer pending).
    alex.wait_for_selector("#messages .message.own:not(.pending)")
    assert bodies(alex) == ["Hello everyone, today was a better day."]
    # Sam's reply, with author and time, and a report button on others' messages.
    sam.fill("textarea[name=body]", "So glad to hear it, Alex.")
    sam.press("textarea[name=body]", "Enter")
    alex.wait_for_selector(
        "#messages .message:not(.own) .body:text-is('So glad to hear it, Alex.')"
    )
    other = alex.locator("#messages .message:not(.own)")
    assert other.locator(".author").inner_text().startswith("Sam")
    assert other.locator("time").get_attribute("datetime")
    assert other.locator("button.report").count() == 1
    # Shift+Enter makes a new line and does not send.
    alex.focus("textarea[name=body]")
    alex.keyboard.type("line one")
    alex.keyboard.press("Shift+Enter")
    alex.keyboard.type("line two")
    assert alex.locator("textarea[name=body]").input_value() == "line one\nline two"
    assert alex.page_errors == []
    assert sam.page_errors == []


def test_text_is_inserted_as_text_never_as_html(site: Site) -> None:
    alex, sam = site.page_for("alex"), site.page_for("sam")
    site.open_room(alex)
    site.open_room(sam)
    alex.fill("textarea[name=body]", "a < b & c > d, <i>not italic</i> 'quoted'")
    alex.press("textarea[name=body]", "Enter")
    sam.wait_for_selector("#messages .message .body")
    assert sam.locator("#messages .message i").count() == 0
    assert "a < b & c > d" in bodies(sam)[0]


def test_a_high_message_brings_crisis_resources_and_fran_sees_it_live(site: Site) -> None:
    fran = site.page_for("fran")
    fran.goto(f"{site.url}/staff/")
    fran.wait_for_selector("#staff-status:text-is('Live')")
    alex = site.page_for("alex")
    site.open_room(alex)
    alex.fill("textarea[name=body]", HIGH)
    alex.press("textarea[name=body]", "Enter")
    # Alex: a calm, private support panel with the 988 line.
    alex.wait_for_selector("#support:not([hidden])", timeout=5000)
    assert "988" in alex.locator("#support").inner_text()
    # Fran: the flag, live, with its level in words and the evidence highlighted.
    flag = fran.wait_for_selector("#flags li.flag", timeout=5000)
    text = flag.inner_text()
    assert "High risk" in text or "Imminent risk" in text
    assert "better off without me" in text.lower()
    assert fran.locator("#flags li.flag mark").count() >= 1


def test_a_report_is_acknowledged_to_the_reporter(site: Site) -> None:
    alex, sam = site.page_for("alex"), site.page_for("sam")
    site.open_room(alex)
    site.open_room(sam)
    sam.fill("textarea[name=body]", "you are all useless")
    sam.press("textarea[name=body]", "Enter")
    alex.wait_for_selector("#messages .message:not(.own) button.report").click()
    alex.fill(".report-form input[name=reason]", "unkind")
    alex.click(".report-form button[type=submit]")
    alex.wait_for_selector("#notice:not([hidden])")
    alex.wait_for_function(
        "() => !document.getElementById('notice').textContent.includes('Sending')", timeout=5000
    )
    assert alex.locator("#notice").inner_text().strip()


def test_a_dropped_connection_comes_back_without_a_gap_or_a_duplicate(site: Site) -> None:
    alex, sam = site.page_for("alex"), site.page_for("sam")
    site.open_room(alex)
    site.open_room(sam)
    sent = []
    for n in range(1, 4):
        body = f"before {n}"
        sam.fill("textarea[name=body]", body)
        sam.press("textarea[name=body]", "Enter")
        sent.append(body)
        alex.wait_for_selector(f"#messages .message .body:text-is('{body}')")
    # The network goes away: the socket drops and alex's page knows it is offline.
    alex.context.set_offline(True)
    alex.evaluate("document.getElementById('room').dispatchEvent(new Event('peersupport:drop'))")
    alex.wait_for_selector("#status[data-state=offline]")
    for n in range(1, 4):
        body = f"while away {n}"
        sam.fill("textarea[name=body]", body)
        sam.press("textarea[name=body]", "Enter")
        sent.append(body)
        sam.wait_for_selector(f"#messages .message.own:not(.pending) .body:text-is('{body}')")
    # Alex types while offline: shown as pending, sent after reconnect with its client_id.
    alex.fill("textarea[name=body]", "typed while offline")
    alex.press("textarea[name=body]", "Enter")
    pending = alex.locator("#messages .message.pending")
    client_id = pending.get_attribute("data-client-id")
    assert client_id
    alex.context.set_offline(False)
    sent.append("typed while offline")
    sam.wait_for_selector("#messages .message .body:text-is('typed while offline')", timeout=10_000)
    alex.wait_for_selector("#messages .message.own:not(.pending)", timeout=10_000)
    expected_alex = sent
    assert bodies(alex) == expected_alex
    assert bodies(sam) == sent
    room = Room.objects.get(slug="evening-circle")
    stored = Message.objects.filter(room=room, body="typed while offline")
    assert stored.count() == 1
    assert stored.get().client_id == client_id
    seqs = alex.eval_on_selector_all(
        "#messages .message", "ns => ns.map(n => Number(n.dataset.seq))"
    )
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_a_changed_agreement_asks_again(site: Site) -> None:
    room = Room.objects.get(slug="evening-circle")
    room.agreement += "\nNew: phones on silent."
    room.agreement_version += 1
    room.save()
    alex = site.page_for("alex")
    alex.goto(f"{site.url}/rooms/evening-circle/")
    alex.wait_for_url(f"{site.url}/rooms/evening-circle/join/")
    assert "phones on silent" in alex.content()
    alex.check("input[name=accept]")
    alex.click("form button[type=submit] >> text=Accept")
    alex.wait_for_url(f"{site.url}/rooms/evening-circle/")
    membership = Membership.objects.get(user__username="alex", room=room)
    assert membership.agreement_version_accepted == room.agreement_version

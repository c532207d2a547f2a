"""The minimal pages: sign in, the room list, joining, the room."""

from __future__ import annotations

import pytest
from django.test import Client

from rooms.models import Membership
from tests.conftest import World

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_login_with_the_contract_fields(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    assert b'name="password"' in page.content
    token = page.cookies["csrftoken"].value
    answer = client.post(
        "/accounts/login/",
        {"username": "alex", "password": "pw-for-tests-only", "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/rooms/"
    assert client.get("/rooms/").status_code == 200


def test_login_without_csrf_is_refused(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = client.post("/accounts/login/", {"username": "alex", "password": "pw-for-tests-only"})
    assert answer.status_code == 403


def test_pages_need_a_session(world: World) -> None:
    for path in ("/rooms/", "/rooms/evening-circle/"):
        answer = Client().get(path)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/login/")


def test_room_list_shows_my_rooms_and_groups_to_join(world: World) -> None:
    page = signed_in(world.outsider).get("/rooms/").content.decode()
    assert "You are not in any room yet" in page
    assert "/rooms/evening-circle/join/" in page
    assert "alex-morgan" not in page
    page = signed_in(world.alex).get("/rooms/").content.decode()
    assert "/rooms/evening-circle/" in page
    assert "/rooms/alex-morgan/" in page


def test_room_page_has_the_message_box(world: World) -> None:
    page = signed_in(world.alex).get("/rooms/evening-circle/").content.decode()
    assert 'name="body"' in page
    assert 'role="log"' in page
    assert "<script>" not in page  # no inline script: the client is a static file


def test_room_page_refuses_non_members(world: World) -> None:
    assert signed_in(world.outsider).get("/rooms/evening-circle/").status_code == 403
    assert signed_in(world.sam).get("/rooms/alex-morgan/").status_code == 403


def test_join_asks_for_the_agreement(world: World) -> None:
    client = signed_in(world.outsider)
    assert client.post("/rooms/evening-circle/join/", {}).status_code == 200
    assert not Membership.objects.filter(user=world.outsider).exists()
    answer = client.post("/rooms/evening-circle/join/", {"accept": "yes"})
    assert answer.status_code == 302
    assert Membership.objects.get(user=world.outsider).agreement_accepted_at is not None
    assert (
        signed_in(world.sam).post("/rooms/alex-morgan/join/", {"accept": "yes"}).status_code == 403
    )

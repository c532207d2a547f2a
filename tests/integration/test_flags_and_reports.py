"""Flags from verdicts to the moderation report; routing by kind of risk."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from chat.models import Message
from moderation.defaults import seed_defaults
from moderation.events import routing
from moderation.models import Flag, FlagSource
from moderation.services import flag_verdict
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _flag(world: World, n: int, level: str, rules: list[str]) -> Flag:
    message = Message.objects.create(
        room=world.circle, author=world.alex, seq=n, client_id=str(n), body="(test)"
    )
    return Flag.objects.create(
        room=world.circle,
        message=message,
        level=level,
        source=FlagSource.DETECTOR,
        evidence=[{"rule": r, "text": "", "start": 0, "end": 0} for r in rules],
    )


def test_moderation_report_gives_precision_by_rule_and_level(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("moderation_report")
    assert "No reviewed flags yet" in capsys.readouterr().out
    verdicts = [
        ("high", ["suicide.wish"], "confirmed"),
        ("high", ["suicide.wish"], "false_alarm"),
        ("imminent", ["suicide.wish", "plan.time"], "confirmed"),
        ("watch", ["distress.hopeless"], "false_alarm"),
    ]
    for n, (level, rules, verdict) in enumerate(verdicts, start=1):
        flag_verdict(actor=world.fran, flag_id=_flag(world, n, level, rules).pk, verdict=verdict)
    _flag(world, 99, "high", ["unreviewed.rule"])
    call_command("moderation_report")
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert rows["high"] == ["1", "1", "0.50"]
    assert rows["imminent"] == ["1", "0", "1.00"]
    assert rows["watch"] == ["0", "1", "0.00"]
    assert rows["suicide.wish"] == ["2", "1", "0.67"]
    assert rows["plan.time"] == ["1", "0", "1.00"]
    assert "unreviewed.rule" not in rows


def test_verdicts_are_for_the_rooms_leaders(world: World) -> None:
    from rooms.access import AccessDenied

    flag = _flag(world, 1, "high", ["x"])
    with pytest.raises(AccessDenied):
        flag_verdict(actor=world.morgan, flag_id=flag.pk, verdict="confirmed")
    with pytest.raises(AccessDenied):
        flag_verdict(actor=world.alex, flag_id=flag.pk, verdict="confirmed")


@pytest.mark.parametrize(
    ("categories", "kinds", "safeguarding", "headline"),
    [
        (["suicide"], ["risk_to_self"], False, ""),
        (["self_harm", "suicide"], ["risk_to_self"], False, ""),
        (["abuse"], ["abuse"], True, "Abuse disclosure"),
        (["harm_to_others"], ["harm_to_others"], True, "harm to someone else"),
        (["substance", "suicide"], ["substance", "risk_to_self"], False, "substance emergency"),
    ],
)
def test_routing_by_kind_of_risk(
    db: None, categories: list[str], kinds: list[str], safeguarding: bool, headline: str
) -> None:
    seed_defaults()
    routed = routing(categories)
    assert [p["kind"] for p in routed["playbooks"]] == kinds
    assert all(p["steps"] for p in routed["playbooks"])
    assert routed["safeguarding"] is safeguarding
    assert headline in routed["headline"]

"""The policy table: level and room choice in, action out."""

from __future__ import annotations

import pytest

from moderation.policy import Decision, decide


@pytest.mark.parametrize(
    ("level", "method", "hold_from", "expected"),
    [
        (
            "none",
            False,
            "imminent",
            Decision("none", hold=False, flag=False, escalate=False, resources=False),
        ),
        (
            "watch",
            False,
            "imminent",
            Decision("watch", hold=False, flag=True, escalate=False, resources=False),
        ),
        (
            "high",
            False,
            "imminent",
            Decision("high", hold=False, flag=True, escalate=False, resources=True),
        ),
        (
            "imminent",
            False,
            "imminent",
            Decision("imminent", hold=True, flag=True, escalate=True, resources=True),
        ),
        # Stricter room: high is held too.
        (
            "high",
            False,
            "high",
            Decision("high", hold=True, flag=True, escalate=False, resources=True),
        ),
        (
            "watch",
            False,
            "high",
            Decision("watch", hold=False, flag=True, escalate=False, resources=False),
        ),
        # Looser room: imminent is delivered, but escalation is never switched off.
        (
            "imminent",
            False,
            "never",
            Decision("imminent", hold=False, flag=True, escalate=True, resources=True),
        ),
        # Method detail is held at any level, in any room.
        (
            "none",
            True,
            "imminent",
            Decision("none", hold=True, flag=True, escalate=False, resources=False),
        ),
        (
            "watch",
            True,
            "never",
            Decision("watch", hold=True, flag=True, escalate=False, resources=False),
        ),
    ],
)
def test_decide(level: str, method: bool, hold_from: str, expected: Decision) -> None:
    assert decide(level=level, method_detail=method, hold_from=hold_from) == expected


def test_a_failed_detector_holds_and_escalates() -> None:
    decision = decide(level="none", detector_failed=True)
    assert decision.hold
    assert decision.escalate
    assert decision.resources


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        decide(level="severe")

"""Policy: what happens to a message, given its screening and the room's choice.

A pure function (no database), so that every combination is tested in a table.

| level    | default action                                                        |
| -------- | --------------------------------------------------------------------- |
| none     | deliver                                                               |
| watch    | deliver; a quiet flag on the facilitator's dashboard                  |
| high     | deliver; flag the facilitator or mentor; crisis resources to sender   |
| imminent | hold from the group; flag; escalate to on-call staff; resources       |

Method detail is held at any level (safe-messaging practice). A room may hold from ``high``
(stricter) or never hold for level alone (looser); escalation of imminent risk is never
switched off, and neither is holding method detail. When the detector fails, the message is
held and escalated: we fail safe, not silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LEVELS = ("none", "watch", "high", "imminent")


class HoldFrom(StrEnum):
    HIGH = "high"
    IMMINENT = "imminent"
    NEVER = "never"


@dataclass(frozen=True)
class Decision:
    level: str
    hold: bool
    flag: bool
    escalate: bool
    resources: bool


def rank(level: str) -> int:
    return LEVELS.index(level)


def decide(
    *,
    level: str,
    method_detail: bool = False,
    hold_from: HoldFrom | str = HoldFrom.IMMINENT,
    detector_failed: bool = False,
) -> Decision:
    if detector_failed:
        return Decision(level="imminent", hold=True, flag=True, escalate=True, resources=True)
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    hold_level = HoldFrom(hold_from)
    hold = method_detail or (
        hold_level is not HoldFrom.NEVER and rank(level) >= rank(hold_level.value)
    )
    return Decision(
        level=level,
        hold=hold,
        flag=hold or rank(level) >= rank("watch"),
        escalate=level == "imminent",
        resources=rank(level) >= rank("high"),
    )

"""Default crisis lines and playbooks; operators edit them in the admin afterwards."""

from __future__ import annotations

from typing import Any

LINES = [
    ("en-US", "988 Suicide & Crisis Lifeline", "Call or text 988", "https://988lifeline.org", 1),
    ("en-US", "Crisis Text Line", "Text HOME to 741741", "https://www.crisistextline.org", 2),
    (
        "intl",
        "Find a helpline (international directory)",
        "Free, confidential support in your country",
        "https://findahelpline.com",
        3,
    ),
    (
        "intl",
        "Emergency services",
        "If you are in danger now, call your local emergency number",
        "",
        4,
    ),
]

PLAYBOOKS = [
    (
        "risk_to_self",
        "Risk to self",
        """Reach out now, privately: open a check-in with the person.
Ask directly and calmly whether they are thinking of ending their life, and whether they are safe right now.
Stay with them; listen more than you talk. Do not promise secrecy.
If there is a plan, means or a time, or an attempt is under way: help them contact emergency services or 988 now.
Make sure the crisis resources reached them; write what you did in the resolution note.""",
    ),
    (
        "harm_to_others",
        "Harm to others",
        """Safeguarding first: someone else may be at risk.
Do not confront the writer in the group; open a private check-in.
If a specific person is in danger now, contact emergency services.
Tell your supervisor; follow the organisation's duty-to-warn procedure.
Record facts, not opinions, in the resolution note.""",
    ),
    (
        "abuse",
        "Abuse disclosure",
        """Safeguarding, not only support: the person may be unsafe where they are.
Thank them for telling; believe them; do not ask for details they do not offer.
Ask whether they are safe right now and whether the person harming them can see their screen.
If they are in danger now, help them reach emergency services; otherwise share domestic-abuse and child-protection lines.
Follow the mandatory-reporting procedure where it applies; tell your supervisor.""",
    ),
    (
        "substance",
        "Substance emergency",
        """Check whether medical help is needed now: an overdose is an emergency even if unintended.
Ask what was taken and how they feel, without judgement.
If they may have overdosed, help them call emergency services now; ask them not to stay alone.
Once safe, offer recovery support and resources; record what you did.""",
    ),
]


def seed_defaults(crisis_line_model: Any = None, playbook_model: Any = None) -> None:
    """Create the defaults that are missing; never overwrite an operator's edits."""
    if crisis_line_model is None or playbook_model is None:
        from moderation.models import CrisisLine, Playbook

        crisis_line_model, playbook_model = CrisisLine, Playbook
    for locale, name, contact, url, order in LINES:
        crisis_line_model.objects.get_or_create(
            name=name, locale=locale, defaults={"contact": contact, "url": url, "order": order}
        )
    for kind, title, steps in PLAYBOOKS:
        playbook_model.objects.get_or_create(kind=kind, defaults={"title": title, "steps": steps})

"""Message bodies are plain text: markup is stripped, never rendered.

bleach removes every tag; its output is HTML-escaped, so we unescape it back to plain text
and clean again until nothing changes (``&lt;script&gt;`` must not turn into a tag). Clients
insert bodies as text, so the result is inert either way; this keeps markup out of the
record too. Controls that can disguise text (bidirectional overrides, most C0/C1 controls)
are removed; zero-width joiners stay because emoji sequences need them.

Text with no ``<`` and no ``&`` has no markup and no escapes, and bleach returns it as it
is, so it skips bleach (about 80 us a message, most of what storing one cost outside the
database); tests/unit/test_sanitize.py checks both ways agree on every labelled message
and on random text.
"""

from __future__ import annotations

import html
import re
import unicodedata

import bleach

# Bidi embeddings, overrides and isolates: they can make text read differently than stored.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 and C1 controls except tab and newline.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_body(raw: str) -> str:
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROLS.sub("", _BIDI_CONTROLS.sub("", text))
    if "<" in text or "&" in text:
        text = _strip_markup(text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _strip_markup(text: str) -> str:
    for _ in range(4):
        cleaned = html.unescape(bleach.clean(text, tags=set(), attributes={}, strip=True))
        if cleaned == text:
            break
        text = cleaned
    else:
        # Nested escapes that never settle: keep the escaped form, which is inert.
        text = bleach.clean(text, tags=set(), attributes={}, strip=True)
    return text

"""Crisis-language screening: a pure, explainable, fast library.

    >>> from moderation.detection import screen
    >>> screen("i wish i could just not wake up").level
    <Level.HIGH: 'high'>

`screen_thorough()` is the same rules' assessment, raised (never lowered) by an optional trained
second stage (``semantic.py``: a small MiniLM-based model, a few ms per message); without the
model installed it equals `screen()` and logs one warning.

It imports nothing from Django, Channels or the rest of the project. The lexicon and the
normalisation tables are data files in ``data/``, compiled once at import; the second stage
loads on its first use. See docs/moderation.md.
"""

from moderation.detection.assessment import Assessment, Category, Evidence, Level
from moderation.detection.detector import screen
from moderation.detection.lexicon import LexiconError
from moderation.detection.thorough import screen_thorough

__all__ = [
    "Assessment",
    "Category",
    "Evidence",
    "Level",
    "LexiconError",
    "screen",
    "screen_thorough",
]

# Compile the lexicon at import, so a malformed data file fails loudly at start-up.
screen("")

"""Crisis-language screening: a pure, explainable, fast library.

    >>> from moderation.detection import screen
    >>> screen("i wish i could just not wake up").level
    <Level.HIGH: 'high'>

It imports nothing from Django, Channels or the rest of the project. The lexicon and the
normalisation tables are data files in ``data/``, compiled once at import. See
docs/moderation.md.
"""

from moderation.detection.assessment import Assessment, Category, Evidence, Level
from moderation.detection.detector import screen
from moderation.detection.lexicon import LexiconError

__all__ = ["Assessment", "Category", "Evidence", "Level", "LexiconError", "screen"]

# Compile the lexicon at import, so a malformed data file fails loudly at start-up.
screen("")

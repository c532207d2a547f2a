"""Detectors for failure tests (named by MODERATION_DETECTOR). Not mocks of the detector:
they stand for a detector that breaks, to prove the message path fails safe."""

from __future__ import annotations


def broken_detector(text: str, recent: tuple[str, ...] = ()) -> object:
    raise RuntimeError("screening is down")


def leaky_broken_detector(text: str, recent: tuple[str, ...] = ()) -> object:
    """Fails with the text in its exception message, as careless code might."""
    raise ValueError(f"cannot screen {text!r}")

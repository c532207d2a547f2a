"""The second stage's fast encoder (moderation/detection/fast_encoder.py) against the exact one.

- the 8-bit block weights decode to within half a step of the float32 weights;
- on every development-set message the fast encoder's pooled vectors (layers 1 and 6) are
  within cosine 0.998 of the exact numpy encoder's, and the stage's verdicts agree;
- the stage loads the fast encoder unless told ``MODERATION_SEMANTIC_ENCODER=exact``, and
  without onnxruntime it runs the exact one and logs a warning.

The accuracy of the stage with the fast encoder on sets it never saw is measured by
bench/semantic_judge.py (docs/moderation.md, "The fast encoder"), not here.
"""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest

from moderation.detection import semantic
from moderation.detection.fast_encoder import BLOCK, FastEncoder, quantize_blocks
from tests.unit.detection.test_dev_set_score import SHARED
from tests.unit.detection.test_semantic import (  # noqa: F401 (the fixture needs_model uses)
    _model_installed,
    exact_model,
    needs_model,
)


def test_block_weights_decode_to_within_half_a_step() -> None:
    rng = np.random.default_rng(7)
    weight = rng.normal(0, 0.05, size=(96, 5)).astype(np.float32)
    weight[:BLOCK, 2] = 0  # an all-zero block
    weight[BLOCK, 4] = -0.9  # one large weight sets its block's step
    codes, scales = quantize_blocks(np, weight)
    assert codes.dtype == np.uint8
    assert codes.shape == (5, 3, BLOCK)
    assert scales.shape == (5, 3)
    decoded = ((codes.astype(np.float32) - 128) * scales[..., None]).reshape(5, 96).T
    assert np.all(np.abs(decoded - weight) <= scales.repeat(BLOCK, axis=1).T / 2 + 1e-7)
    assert np.all(decoded[:BLOCK, 2] == 0)
    assert decoded[BLOCK, 4] == pytest.approx(-0.9)
    assert codes.min() >= 1  # symmetric: -127 .. 127 around 128


def test_a_width_that_is_not_whole_blocks_is_refused() -> None:
    with pytest.raises(ValueError, match="blocks of 32"):
        quantize_blocks(np, np.ones((40, 3), dtype=np.float32))


def fast_model() -> semantic.Model:
    """The installed stage, which runs the fast encoder."""
    stage = semantic.model()
    assert stage is not None
    assert isinstance(stage.encoder, FastEncoder)
    return stage


def dev_texts() -> list[str]:
    with (SHARED / "crisis-dev.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


@needs_model
def test_the_fast_encoder_is_within_cosine_0_998_of_the_exact_one() -> None:
    fast, exact = fast_model().encoder, exact_model().encoder
    texts = dev_texts()
    assert len(texts) == 200
    worst = 1.0
    for text in texts:
        got, expected = fast.encode_layers(text), exact.encode_layers(text)
        assert set(got) == set(expected) == set(semantic.LAYERS)
        for layer in semantic.LAYERS:
            assert float(np.linalg.norm(got[layer])) == pytest.approx(1.0, abs=1e-5)
            worst = min(worst, float(got[layer] @ expected[layer]))
    assert worst >= 0.998  # 0.9989 when written; the mean is about 0.9996
    assert worst < 1.0 - 1e-7  # it is the 8-bit graph, not the exact pass again


@needs_model
def test_with_the_fast_encoder_the_stage_says_what_it_says_with_the_exact_one() -> None:
    fast, exact = fast_model(), exact_model()
    for text in dev_texts():
        a, b = fast.assess(text), exact.assess(text)
        assert a.level is b.level, text
        assert a.p_crisis == pytest.approx(b.p_crisis, abs=0.03), text


@needs_model
def test_only_the_pooled_layers_can_be_asked_for() -> None:
    encoder = fast_model().encoder
    assert set(encoder.encode_layers("hello", (6,))) == {6}
    with pytest.raises(ValueError, match="pools layers"):
        encoder.encode_layers("hello", (3,))


@needs_model
def test_the_stage_loads_the_fast_encoder_unless_told_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where = semantic.model_dir()
    assert where is not None
    assert isinstance(semantic.make_encoder(where), FastEncoder)
    monkeypatch.setenv("MODERATION_SEMANTIC_ENCODER", "exact")
    encoder = semantic.make_encoder(where)
    assert type(encoder) is semantic.Encoder


@needs_model
def test_without_onnxruntime_the_stage_runs_the_exact_encoder_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    where = semantic.model_dir()
    assert where is not None
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # "import onnxruntime" fails
    with caplog.at_level(logging.WARNING, logger="moderation.detection"):
        encoder = semantic.make_encoder(where)
    assert type(encoder) is semantic.Encoder
    assert "'onnxruntime' is not installed" in caplog.text
    assert "exact numpy encoder" in caplog.text

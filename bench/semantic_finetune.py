"""Fine-tune the second stage's encoder and head on the labelled sets (PyTorch, training only).

    python bench/semantic_finetune.py                     # train on all136, write data/semantic/
    python bench/semantic_finetune.py --out /tmp/ft       # somewhere else
    python bench/semantic_finetune.py --choose OLD_DATA   # also pick th/ti on the CAL sets

What it trains (docs/moderation.md, "Fine-tuned encoder"): all-MiniLM-L6-v2's six layers,
rebuilt here in torch from the model package's weights (its embeddings frozen), with a 4-way
linear head (none / watch / high / imminent) over the stage's own features, the mean-pooled,
L2-normalised states after layers 1 and 6 / sqrt 2, scaled by 8 (a temperature: unit vectors
give logits too small to train). AdamW, weight decay 0.01, learning rate 4e-5 for the layers and
20x that for the head, 5% warm-up then linear decay, 3 epochs of batches of 32 (messages of
similar length together), dropout 0.1 on the features, cross-entropy with label smoothing 0.05;
texts truncated to 96 tokens in training. The training rows are `semantic_train.load_rows`:
the files of the named list and the curated phrases of examples.toml.

What it writes, the stage's data files (moderation/detection/data/semantic/, README.md):
- ``encoder.npz``: the six layers' tensors in float16 under the package's names;
- ``weights.npz``: the head as the stage reads it (W = 8 x the head's weights, b), th, ti,
  the layers, the curated phrases' sentence vectors (from the exact encoder with the new
  layers), the training files and the sha256 of ``encoder.npz`` (the stage refuses a head
  trained with other layers);
- ``ngrams.json`` with no n-grams (this head reads the encoder alone);
- ``ranges.npz``, the fast encoder's smoothing ranges for the new layers (as
  bench/semantic_ranges.py computes them).

Thresholds: th (P(high) + P(imminent)) and ti (P(imminent)) are ``--th``/``--ti``, by default
the ones chosen for the shipped head. ``--choose OLD_DATA`` picks them again, on the CAL sets
(firstsight718-760 for the shipped all136 head, x478-544 for the all96 one before it; in no
training list), against the head in OLD_DATA (a data folder, such as git's copy of the head
before), rules + stage with the guards: th is the highest value, on a grid of 0.02, whose CAL
imminent caught and crisis caught are each over OLD_DATA's by ``--margin`` (1%, the shipped head
0.5%) of CAL's imminent and crisis messages (a margin:
the first rule, fewest false alarms with no fewer catches than OLD_DATA, chose 0.74, which
caught three imminent messages fewer on four new sets); ti, among the values keeping OLD_DATA's
CAL imminent recall, the one with the best imminent F1. The new head's probabilities there are
the trained net's own (float32 layers, texts cut to 96 tokens, as in training), which gave the
all96 head's 0.62 / 0.46 (the stage's, float16 layers in the fast encoder and 256 tokens, would
have given 0.64 / 0.58), or with ``--as-staged`` the stage's own, which gave the shipped all136
head's 0.64 / 0.78:

    python bench/semantic_finetune.py --files all136 --choose OLD_DATA --margin 0.005 \
        --as-staged --state STATE.pt

On the bench machines (2 cores) training takes 15-35 minutes. Torch on the CPU with the same
seed and threads repeats itself on one machine; another may round differently.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - a hint, not a feature
    sys.exit(
        'PyTorch is a training-only dependency: .venv/bin/python -m pip install -e ".[finetune]"'
    )

import semantic_train as T

from moderation.detection import screen
from moderation.detection import semantic as S
from moderation.detection.fast_encoder import input_ranges
from moderation.detection.normalise import normalise
from moderation.detection.thorough import guard

RANK = {"none": 0, "watch": 1, "high": 2, "imminent": 3}
TRAIN_TOKENS = 96
SCALE = 8.0  # the head's temperature over unit feature vectors
WIDTH = 384
# Chosen on CAL by --choose --margin 0.005 --as-staged against the all96 fine-tuned head
# (docs/moderation.md, "Fine-tuned on 136 files"); 0.62 / 0.46 for that head, chosen on x478-x544.
TH, TI = 0.64, 0.78
CAL = tuple(f"firstsight{n}" for n in range(718, 761, 6))
# The package's names of the tensors a layer has, by the part of `Layer` that holds them.
PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "o": "attention.output.dense",
    "n1": "attention.output.LayerNorm",
    "up": "intermediate.dense",
    "down": "output.dense",
    "n2": "output.LayerNorm",
}


class Layer(nn.Module):
    """One BERT layer, as `semantic.Encoder` runs it, with the package's weights."""

    def __init__(self, weights: dict[str, Any], prefix: str, heads: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        for part in ("q", "k", "v", "o"):
            setattr(self, part, nn.Linear(WIDTH, WIDTH))
        self.up, self.down = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)
        self.n1, self.n2 = nn.LayerNorm(WIDTH, eps=eps), nn.LayerNorm(WIDTH, eps=eps)
        for part, name in PARTS.items():
            module = getattr(self, part)
            module.weight.data.copy_(torch.from_numpy(weights[f"{prefix}{name}.weight"]))
            module.bias.data.copy_(torch.from_numpy(weights[f"{prefix}{name}.bias"]))

    def forward(self, x: Any, mask: Any) -> Any:
        batch, n, _ = x.shape

        def split(t: Any) -> Any:
            return t.view(batch, n, self.heads, WIDTH // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=mask[:, None, None, :]
        )
        x = self.n1(x + self.o(attended.transpose(1, 2).reshape(batch, n, WIDTH)))
        return self.n2(x + self.down(F.gelu(self.up(x))))


class Net(nn.Module):
    """The encoder (frozen embeddings, six trainable layers) and the 4-way head."""

    def __init__(self, model_dir: Path) -> None:
        super().__init__()
        from safetensors.numpy import load_file

        weights = load_file(str(model_dir / "model.safetensors"))
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        eps = float(config["layer_norm_eps"])
        self.words = nn.Embedding.from_pretrained(
            torch.from_numpy(weights["embeddings.word_embeddings.weight"]), freeze=True
        )
        positions = (
            weights["embeddings.position_embeddings.weight"]
            + weights["embeddings.token_type_embeddings.weight"][0]
        )
        self.register_buffer("positions", torch.from_numpy(positions))
        self.norm = nn.LayerNorm(WIDTH, eps=eps)
        self.norm.weight.data.copy_(torch.from_numpy(weights["embeddings.LayerNorm.weight"]))
        self.norm.bias.data.copy_(torch.from_numpy(weights["embeddings.LayerNorm.bias"]))
        self.norm.requires_grad_(False)
        heads = int(config["num_attention_heads"])
        self.layers = nn.ModuleList(
            Layer(weights, f"encoder.layer.{i}.", heads, eps)
            for i in range(int(config["num_hidden_layers"]))
        )
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(WIDTH * len(S.LAYERS), len(RANK))

    def features(self, ids: Any, mask: Any) -> Any:
        x = self.norm(self.words(ids) + self.positions[: ids.shape[1]])
        weight = mask[..., None].float()
        pooled = []
        for depth, layer in enumerate(self.layers, 1):
            x = layer(x, mask)
            if depth in S.LAYERS:
                mean = (x * weight).sum(1) / weight.sum(1)
                pooled.append(F.normalize(mean, dim=-1))
        return torch.cat(pooled, -1) / math.sqrt(len(S.LAYERS))

    def forward(self, ids: Any, mask: Any) -> Any:
        return self.head(self.drop(self.features(ids, mask)) * SCALE)


def batches(
    encoded: list[list[int]], labels: list[int] | None, size: int, rng: random.Random | None
) -> Any:
    """(row indices, ids, mask, labels) in batches of similar length; shuffled with `rng`."""
    order = list(range(len(encoded)))
    if rng is None:
        order.sort(key=lambda j: len(encoded[j]))
        groups = [order[i : i + size] for i in range(0, len(order), size)]
    else:
        rng.shuffle(order)
        pools = [
            sorted(order[i : i + size * 50], key=lambda j: len(encoded[j]))
            for i in range(0, len(order), size * 50)
        ]
        groups = [pool[i : i + size] for pool in pools for i in range(0, len(pool), size)]
        rng.shuffle(groups)
    for group in groups:
        n = max(len(encoded[j]) for j in group)
        ids = torch.zeros(len(group), n, dtype=torch.long)
        mask = torch.zeros(len(group), n, dtype=torch.bool)
        for row, j in enumerate(group):
            ids[row, : len(encoded[j])] = torch.tensor(encoded[j])
            mask[row, : len(encoded[j])] = True
        target = None if labels is None else torch.tensor([labels[j] for j in group])
        yield group, ids, mask, target


def _tokenizer(model_dir: Path, max_tokens: int) -> Any:
    """The model's own tokenizer, one text at a time, cut to `max_tokens`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def train(args: argparse.Namespace, model_dir: Path) -> Net:

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    tokenizer = _tokenizer(model_dir, TRAIN_TOKENS)
    rows = T.load_rows(T.training_files(args.files))
    encoded = [tokenizer.encode(r["text"]).ids for r in rows]
    labels = [RANK[r["level"]] for r in rows]
    net = Net(model_dir)
    head = list(net.head.parameters())
    body = [
        p for name, p in net.named_parameters() if p.requires_grad and not name.startswith("head")
    ]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * 20}], weight_decay=0.01
    )
    size = 32
    steps = int(args.epochs * math.ceil(len(rows) / size))
    warm = steps // 20
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / max(1, warm)) * max(0.0, (steps - s) / steps)
    )
    print(f"{args.files}: {len(rows)} rows, {steps} steps", flush=True)
    started, step, total = time.perf_counter(), 0, 0.0
    while step < steps:
        net.train()
        for _, ids, mask, target in batches(encoded, labels, size, rng):
            loss = F.cross_entropy(net(ids, mask), target, label_smoothing=0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            total += loss.item()
            if step % 100 == 0:
                print(
                    f"step {step}/{steps} loss {total / 100:.4f} "
                    f"{time.perf_counter() - started:.0f}s",
                    flush=True,
                )
                total = 0.0
            if step >= steps:
                break
    return net


def export(net: Net, out: Path, files: str, th: float, ti: float, model_dir: Path) -> None:
    """The stage's data files for `net` in `out` (see the module's docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for i, layer in enumerate(net.layers):
        for part, name in PARTS.items():
            module = getattr(layer, part)
            for kind in ("weight", "bias"):
                value = getattr(module, kind).detach().numpy()
                tensors[f"encoder.layer.{i}.{name}.{kind}"] = value.astype(np.float16)
    np.savez_compressed(out / S.TUNED.name, **tensors)
    encoder = S.Encoder(model_dir, out / S.TUNED.name)
    np.savez_compressed(out / "ranges.npz", **input_ranges(encoder))
    examples = S.read_examples(out / S.EXAMPLES.name)
    np.savez(
        out / S.WEIGHTS.name,
        W=(net.head.weight.detach().numpy() * SCALE).astype(np.float32),
        b=net.head.bias.detach().numpy().astype(np.float32),
        th=np.float64(th),
        ti=np.float64(ti),
        layers=np.array(S.LAYERS),
        example_vectors=np.stack([encoder.encode(e.text) for e in examples]).astype(np.float32),
        example_digest=S.examples_digest(examples),
        training_files=np.array(T.FILE_LISTS[files]),
        encoder=S.tuned_digest(out / S.TUNED.name),
    )
    (out / S.NGRAMS.name).write_text(
        json.dumps({"classes": [c.value for c in S.CLASSES], "weights": {}}) + "\n",
        encoding="utf-8",
    )


def write_reference(net: Net, model_dir: Path) -> None:
    """The reference probabilities test_semantic.py holds the stage to, from torch: the
    trained net with its layers rounded to float16 as `export` stores them, on the full text
    (up to the stage's 256 tokens), the head's logits / 1 as the stage computes them."""
    tokenizer = _tokenizer(model_dir, S.MAX_TOKENS)
    rounded = Net(model_dir)
    rounded.load_state_dict(net.state_dict())
    with torch.no_grad():
        for layer in rounded.layers:
            for parameter in layer.parameters():
                parameter.copy_(parameter.half().float())
    rounded.eval()
    reference = json.loads(T.REFERENCE.read_text(encoding="utf-8"))
    items = reference["probabilities"]
    with torch.no_grad():
        for item in items:
            ids = torch.tensor([tokenizer.encode(item["text"]).ids])
            p = F.softmax(rounded(ids, torch.ones_like(ids, dtype=torch.bool)).double(), -1)[0]
            item["p_crisis"] = round(float(p[2] + p[3]), 7)
            item["p_imminent"] = round(float(p[3]), 7)
    reference["probabilities_note"] = (
        "P(high)+P(imminent) and P(imminent) of every 10th fresh32-37 message (training data of "
        "the head: a reproduction check, not a generalisation one) from PyTorch, the fine-tuned "
        "net with its layers rounded to float16 (bench/semantic_finetune.py --reference), "
        "rounded to 7 decimals"
    )
    T.REFERENCE.write_text(json.dumps(reference, ensure_ascii=False), encoding="utf-8")
    print(f"wrote the {len(items)} reference probabilities in {T.REFERENCE}")


def _cal_rows(cal: tuple[str, ...] = CAL) -> list[tuple[str, int, int, bool]]:
    rows = []
    for stem in cal:
        with (T.UNIT / f"{stem}.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    text, gold = (item := json.loads(line))["text"], RANK[item["level"]]
                    rules = screen(text)
                    kept = guard(rules, text) is not None or bool(
                        S.BREAKUP.search(normalise(text).text)
                    )
                    rows.append((text, gold, RANK[rules.level.value], kept))
    return rows


def _figures(gold: Any, pred: Any) -> tuple[int, int, int, int, float]:
    imminent = gold == 3
    tp = int(((gold == 3) & (pred == 3)).sum())
    return (
        int((pred[imminent] >= 2).sum()),
        int((pred[gold >= 2] >= 2).sum()),
        tp,
        int((pred[gold == 0] >= 2).sum()),
        2 * tp / max(1, int(imminent.sum()) + int((pred == 3).sum())),
    )


def net_probabilities(net: Net, model_dir: Path, texts: list[str]) -> Any:
    """(P(high) + P(imminent), P(imminent)) of `texts` from the trained net itself, as in
    training (float32 layers, texts cut to TRAIN_TOKENS), in batches of similar length."""
    tokenizer = _tokenizer(model_dir, TRAIN_TOKENS)
    encoded = [tokenizer.encode(text).ids for text in texts]
    out = np.zeros((len(texts), 2))
    net.eval()
    with torch.no_grad():
        for group, ids, mask, _ in batches(encoded, None, 64, None):
            p = F.softmax(net(ids, mask), -1).numpy()
            out[group] = np.stack([p[:, 2] + p[:, 3], p[:, 3]], axis=1)
    return out


def staged_probabilities(model: S.Model, texts: list[str]) -> Any:
    """The exported head's probabilities of `texts` as the stage computes them (fast encoder,
    256 tokens)."""
    return np.array([model.probabilities(text) for text in texts])


def choose(
    new_probabilities: Callable[[list[str]], Any],
    old: S.Model,
    cal: tuple[str, ...] = CAL,
    margin: float = 0.01,
) -> tuple[float, float]:
    """th and ti on the sets `cal` by the rule in the module's docstring, from the new head's
    probabilities of the texts: the net's own (`net_probabilities`: how the all96 head's
    thresholds were chosen) or the exported head's as the stage loads it (``--as-staged``)."""
    rows = _cal_rows(cal)
    gold = np.array([r[1] for r in rows])
    rules = np.array([r[2] for r in rows])
    kept = np.array([r[3] for r in rows])

    def final(p: Any, th: float, ti: float) -> Any:
        stage = np.where(p[:, 0] >= th, np.where(p[:, 1] >= ti, 3, 2), 0)
        stage[kept] = 0
        return np.maximum(rules, stage)

    texts = [r[0] for r in rows]
    new_p = new_probabilities(texts)
    old_p = staged_probabilities(old, texts)
    caught, crisis, recalled, _, _ = _figures(gold, final(old_p, old.th, old.ti))
    need_caught = caught + round(margin * int((gold == 3).sum()))
    need_crisis = crisis + round(margin * int((gold >= 2).sum()))
    grid = [round(x, 2) for x in np.arange(0.04, 0.96, 0.02)]
    keeps = [
        th
        for th in grid
        if (f := _figures(gold, final(new_p, th, TI)))[0] >= need_caught and f[1] >= need_crisis
    ]
    if not keeps:
        raise SystemExit("no threshold keeps CAL's catches with the margin: nothing chosen")
    th = max(keeps)
    keeping = [ti for ti in grid if _figures(gold, final(new_p, th, ti))[2] >= recalled]
    ti = max(keeping, key=lambda t: _figures(gold, final(new_p, th, t))[4])
    return th, ti


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", choices=sorted(T.FILE_LISTS), default=T.TRAINING_FILES)
    parser.add_argument("--out", type=Path, default=S.DATA)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--th", type=float, default=TH)
    parser.add_argument("--ti", type=float, default=TI)
    parser.add_argument("--choose", type=Path, metavar="OLD_DATA")
    parser.add_argument(
        "--cal", help="the sets --choose picks th and ti on, comma-separated (default CAL)"
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=0.01,
        help="--choose: CAL catches over OLD_DATA's by this share of CAL's messages (default 0.01)",
    )
    parser.add_argument(
        "--as-staged",
        action="store_true",
        help="--choose from the stage's probabilities (fast encoder, 256 tokens), not the net's",
    )
    parser.add_argument("--state", type=Path, help="write the trained torch state here too")
    parser.add_argument("--from-state", type=Path, help="export this torch state, no training")
    parser.add_argument(
        "--reference",
        action="store_true",
        help=f"also rewrite the reference probabilities in {T.REFERENCE.name} from torch",
    )
    args = parser.parse_args()
    model_dir = T.model_dir()
    if args.out.resolve() != S.DATA.resolve():
        (args.out / S.EXAMPLES.name).parent.mkdir(parents=True, exist_ok=True)
        (args.out / S.EXAMPLES.name).write_bytes(S.EXAMPLES.read_bytes())
    if args.from_state:
        net = Net(model_dir)
        net.load_state_dict(torch.load(args.from_state))
    else:
        net = train(args, model_dir)
        if args.state:
            torch.save(net.state_dict(), args.state)
    net.eval()
    export(net, args.out, args.files, args.th, args.ti, model_dir)
    if args.choose:
        cal = tuple(args.cal.split(",")) if args.cal else CAL
        assert not set(cal) & set(T.FILE_LISTS[args.files]), "a CAL set is training data"
        probabilities = (
            partial(staged_probabilities, S.Model(model_dir, data=args.out))
            if args.as_staged
            else partial(net_probabilities, net, model_dir)
        )
        th, ti = choose(probabilities, S.Model(model_dir, data=args.choose), cal, args.margin)
        print(f"chosen on CAL: th {th} ti {ti}")
        export(net, args.out, args.files, th, ti, model_dir)
    if args.reference:
        write_reference(net, model_dir)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

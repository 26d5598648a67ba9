"""An LLM as a pairwise judge, on any backend, with a call cache and a bounded re-ask.

The judge sends a system prompt (:data:`DEFAULT_SYSTEM`: a five-level verdict ``[[A>>B]]`` …
``[[B>>A]]`` after a short explanation) and a user message rendered from a Jinja2 template
(:data:`DEFAULT_TEMPLATE`; sandboxed, variables ``input``, ``output_a``, ``output_b``,
``reference``, ``id``, ``tags``). The reply is parsed tolerantly (``judging.parse``). When no
verdict is found the judge asks again, up to ``max_retries`` times, by continuing the
conversation: its previous reply, then :data:`REASK`. Each attempt is its own request, so each is
cached on its own; a reply still without a verdict after the last attempt gives an error
judgment that keeps the raw text.

**Cache.** Every request is keyed by SHA-256 of (backend identity, request) — the backend's own
``call_key`` — and committed to the store the moment it completes, so an interrupted judging
resumes where it stopped and a repeated one makes no request. Failed calls (HTTP errors after
the backend's own retries) are not cached: a rerun tries them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deltaeval.backends.base import Backend, Generation, GenerationParams
from deltaeval.errors import UsageError
from deltaeval.judging.base import Judge, JudgmentCallback, Pair, judgment_for
from deltaeval.judging.parse import parse_verdict
from deltaeval.types import Example, Judgment, input_text

DEFAULT_SYSTEM = (
    "You are an impartial judge of answers written by AI assistants. You will see a user's "
    "request and two answers to it, labelled A and B. Decide which answer serves the user better, "
    "weighing correctness, helpfulness, relevance, completeness and clarity. The order in which "
    "the answers appear and their length must not sway you.\n\n"
    "First give your reason briefly, in one to three sentences. Then end your reply with your "
    "verdict, exactly one of these labels, on a line of its own:\n"
    "[[A>>B]] if A is much better, [[A>B]] if A is better, [[A=B]] if they are about equally "
    "good, [[B>A]] if B is better, [[B>>A]] if B is much better."
)

DEFAULT_TEMPLATE = """\
<request>
{{ input }}
</request>
{% if reference %}
<reference_answer>
{{ reference }}
</reference_answer>
{% endif %}
<answer_A>
{{ output_a }}
</answer_A>

<answer_B>
{{ output_b }}
</answer_B>

Which answer is better? Explain briefly, then give your verdict label."""

REASK = (
    "Your reply did not end with a verdict label. Answer with the label only, exactly one of: "
    "[[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]]."
)

TEMPLATE_VARIABLES = ("input", "output_a", "output_b", "reference", "id", "tags")

#: Most tokens a judge reply may have by default: room for a brief reason and the verdict, not
#: an essay (a reply cut short without a verdict is re-asked for the label alone).
DEFAULT_MAX_TOKENS = 256


def _compile(template: str) -> Any:
    from deltaeval.sandbox import compile_template

    hint = "variables: " + ", ".join(TEMPLATE_VARIABLES)
    return compile_template(template, what="the judge template", hint=hint, trim_blocks=True)


@dataclass
class _State:
    """What one pair's judging has gathered so far."""

    messages: list[dict[str, str]]
    attempts: int = 0
    prompt_tokens: int | None = None
    tokens: int | None = None
    latency_s: float = 0.0
    cached: bool = True


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


class LLMJudge(Judge):
    """A language model on any backend as a pairwise judge.

    Parameters
    ----------
    backend:
        A :class:`~deltaeval.backends.base.Backend` (``get_backend("openai:judge@URL")``).
    template:
        Jinja2 template of the user message (default :data:`DEFAULT_TEMPLATE`); variables
        ``input``, ``output_a``, ``output_b``, ``reference``, ``id``, ``tags``. Rendered in a
        sandbox with strict undefined variables.
    system:
        The system prompt (default :data:`DEFAULT_SYSTEM`); ``None`` sends none.
    max_retries:
        How many times to re-ask after a reply without a verdict (0: never).
    temperature, max_tokens:
        Decoding of every judge request (``max_tokens`` default :data:`DEFAULT_MAX_TOKENS`).
    name:
        The judge's name in judgments and reports (default: the backend's spec).

    Examples
    --------
    >>> judge = LLMJudge(get_backend("openai:judge@http://127.0.0.1:8000/v1"))  # doctest: +SKIP
    >>> judge.judge([Pair(example, "answer one", "answer two")], store=store)  # doctest: +SKIP
    """

    kind = "llm"

    def __init__(
        self,
        backend: Backend,
        *,
        template: str | None = None,
        system: str | None = DEFAULT_SYSTEM,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        name: str | None = None,
    ) -> None:
        super().__init__(name or backend.spec)
        if max_retries < 0:
            raise UsageError("max_retries must be >= 0")
        self.backend = backend
        self.template = DEFAULT_TEMPLATE if template is None else template
        self._template = _compile(self.template)
        self.system = system
        self.max_retries = max_retries
        self.params = GenerationParams(system=system, temperature=temperature, max_tokens=max_tokens)

    # prompts ------------------------------------------------------------------------------

    def render(self, pair: Pair) -> str:
        """The user message for ``pair`` (the template rendered with its variables)."""
        from deltaeval.sandbox import render

        example = pair.example
        variables = {
            "input": input_text(example.input),
            "output_a": pair.output_a,
            "output_b": pair.output_b,
            "reference": example.reference,
            "id": example.id,
            "tags": dict(example.tags),
        }
        hint = "variables: " + ", ".join(TEMPLATE_VARIABLES)
        return render(self._template, variables, what="the judge template", example_id=example.id, hint=hint)

    def request(self, example_id: str, messages: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """The backend request for a conversation with the judge (system prompt added)."""
        conversation = [{"role": m["role"], "content": m["content"]} for m in messages]
        if len(conversation) == 1:  # a first attempt: the plain user message (completion endpoints too)
            return self.backend.request(Example(id=example_id, input=conversation[0]["content"]), self.params)
        return self.backend.request(Example(id=example_id, input=conversation), self.params)

    # judging ------------------------------------------------------------------------------

    def judge(
        self,
        pairs: Sequence[Pair],
        *,
        store: Any = None,
        on_judgment: JudgmentCallback | None = None,
    ) -> list[Judgment]:
        """Judge ``pairs`` with the cache in ``store`` (a Store, or None for no cache)."""
        pairs = [Pair.of(p) for p in pairs]
        states = [_State(messages=[{"role": "user", "content": self.render(p)}]) for p in pairs]
        results: list[Judgment | None] = [None] * len(pairs)
        identity = self.backend.cache_identity()

        def finish(i: int, judgment: Judgment) -> None:
            results[i] = judgment
            if on_judgment is not None:
                on_judgment(i, judgment)

        def handle(i: int, generation: Generation, from_cache: bool, attempt: int) -> bool:
            """Take one attempt's result; True when the pair needs another attempt."""
            state = states[i]
            state.attempts += 1
            state.prompt_tokens = _add(state.prompt_tokens, generation.prompt_tokens)
            state.tokens = _add(state.tokens, generation.tokens)
            state.latency_s += generation.latency_s or 0.0
            state.cached &= from_cache
            common = {
                "attempts": state.attempts,
                "prompt_tokens": state.prompt_tokens,
                "tokens": state.tokens,
                "latency_s": state.latency_s,
                "cached": state.cached,
            }
            if generation.error is not None:
                finish(i, judgment_for(pairs[i], self.name, error=generation.error, **common))
                return False
            text = generation.text or ""
            parsed = parse_verdict(text)
            if parsed is not None:
                finish(
                    i,
                    judgment_for(
                        pairs[i],
                        self.name,
                        label=parsed.label,
                        raw=text,
                        explanation=parsed.explanation or None,
                        **common,
                    ),
                )
                return False
            if attempt < self.max_retries:
                state.messages += [{"role": "assistant", "content": text}, {"role": "user", "content": REASK}]
                return True
            finish(
                i,
                judgment_for(
                    pairs[i],
                    self.name,
                    raw=text,
                    error=f"no verdict found in the judge's reply after {state.attempts} attempt(s)",
                    **common,
                ),
            )
            return False

        def run_round(pending: list[int], attempt: int) -> list[int]:
            """One attempt for every pending pair (cache first); the pairs to ask again."""
            requests = {i: self.request(pairs[i].example.id, states[i].messages) for i in pending}
            keys = {i: self.backend.call_key(r) for i, r in requests.items()}
            cached = store.cache_get_many(list(keys.values())) if store is not None else {}
            again: list[int] = []
            seen: set[int] = set()
            waiting: dict[str, list[int]] = {}

            def take(i: int, generation: Generation, from_cache: bool, attempt: int = attempt) -> None:
                seen.add(i)
                if handle(i, generation, from_cache, attempt):
                    again.append(i)

            for i in pending:
                if keys[i] in cached:
                    take(i, Generation.from_cache(cached[keys[i]]), True)
                else:
                    waiting.setdefault(keys[i], []).append(i)
            order = list(waiting)

            def record(j: int, generation: Generation) -> None:
                key = order[j]
                if generation.error is None and store is not None:
                    store.cache_put(
                        key,
                        backend=str(identity.get("backend", self.backend.kind)),
                        model=str(identity.get("model", self.backend.model)),
                        request=requests[waiting[key][0]],
                        response=generation.to_cache(),
                    )
                for i in waiting[key]:
                    take(i, generation, False)

            if order:
                self.backend.call_many([requests[waiting[k][0]] for k in order], record)
                lost = Generation(error="the backend reported no result")
                for i in (i for k in order for i in waiting[k] if i not in seen):
                    take(i, lost, False, self.max_retries)
            return sorted(again)

        pending = list(range(len(pairs)))
        for attempt in range(self.max_retries + 1):
            if not pending:
                break
            pending = run_round(pending, attempt)
        return [
            r if r is not None else judgment_for(p, self.name, error="no result")
            for p, r in zip(pairs, results, strict=True)
        ]

    def close(self) -> None:
        self.backend.close()

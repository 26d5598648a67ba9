"""Hand-written cases for every scorer, the registry, and score_run."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from deltaeval.errors import DeltaEvalError, ScorerError
from deltaeval.scoring import (
    SCORERS,
    ChoiceMatch,
    Contains,
    CustomScorer,
    ExactMatch,
    NumericMatch,
    RegexMatch,
    RougeL,
    Scorer,
    ScoreResult,
    extract_choice,
    extract_number,
    get_scorer,
    normalize_answer,
    register_scorer,
    score_run,
)
from deltaeval.types import Example, Output, Run

EX = Example(id="ex-1", input="question?", reference="unused")


def correct(scorer: Scorer, prediction: str | None, reference: str | None) -> bool:
    return scorer.score(prediction, reference, EX).correct


# --- shared contract -------------------------------------------------------------------


def test_score_result_is_frozen_and_binary_helper() -> None:
    result = ScoreResult.binary(True)
    assert result == ScoreResult(1.0, True)
    assert ScoreResult.binary(False) == ScoreResult(0.0, False)
    with pytest.raises(AttributeError):
        result.score = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("scorer", [ExactMatch(), NumericMatch(), ChoiceMatch(), RougeL()])
def test_none_prediction_scores_zero(scorer: Scorer) -> None:
    assert scorer.score(None, "42", EX) == ScoreResult(0.0, False)


@pytest.mark.parametrize("spec", ["exact", "numeric", "choice", "contains", "rouge_l"])
def test_missing_reference_names_example_and_hint(spec: str) -> None:
    with pytest.raises(ScorerError) as info:
        get_scorer(spec).score("42", None, Example(id="q-17"))
    message = str(info.value)
    assert "'q-17'" in message
    assert "--reference" in message and "correctness" in message


def test_scorer_error_is_a_deltaeval_error() -> None:
    assert issubclass(ScorerError, DeltaEvalError)


def test_repr_shows_parameters() -> None:
    assert repr(NumericMatch(rel_tol=0.01)) == "NumericMatch(rel_tol=0.01, abs_tol=1e-09)"
    assert ChoiceMatch("ABCD").get_params() == {"letters": "ABCD"}


# --- exact -------------------------------------------------------------------------------


def test_normalize_answer() -> None:
    assert normalize_answer("  The  Eiffel\tTower. ") == "eiffel tower"
    assert normalize_answer("“Paris!”") == "paris"
    assert normalize_answer("ＰＡＲＩＳ") == "paris"  # NFKC folds full-width letters
    assert normalize_answer("Straße") == "strasse"  # casefold
    assert normalize_answer("U.S.A.") == "u.s.a"  # inner punctuation stays
    assert normalize_answer("A") == "a"  # an article alone is kept
    assert normalize_answer("an apple a day") == "apple day"


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("Paris", "paris", True),
        ("  The Beatles.  ", "Beatles", True),
        ("an apple", "Apple!", True),
        ("(A)", "a", True),
        ("A", "B", False),
        ("Paris, France", "Paris", False),
        ("Lyon", "Paris|||Lyon|||Nice", True),
        ("Marseille", "Paris|||Lyon", False),
        ("paris", "|||Paris|||", True),
        ("", "", True),
    ],
)
def test_exact(prediction: str, reference: str, expected: bool) -> None:
    assert correct(ExactMatch(), prediction, reference) is expected


def test_exact_without_normalization() -> None:
    scorer = ExactMatch(normalize=False)
    assert correct(scorer, " Paris\n", "Paris")
    assert not correct(scorer, "paris", "Paris")
    assert not correct(scorer, "Paris.", "Paris")
    assert correct(scorer, "Lyon", "Paris|||Lyon")


def test_exact_option_is_validated() -> None:
    with pytest.raises(ScorerError, match="normalize"):
        ExactMatch(normalize="yes")  # type: ignore[arg-type]


# --- numeric -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is $1,234.50.", 1234.5),
        ("She has 3 apples, then 4 more.\n#### 72", 72.0),
        ("#### -3", -3.0),
        ("First 5, then 10. The answer is 7 apples. Check: 7 + 1 = 8", 7.0),
        ("It costs 12 dollars and then 15.", 15.0),
        ("Half of it: 3/4", 0.75),
        ("Growth was 12.5%", 12.5),
        ("The temperature fell to −4", -4.0),
        ("So x = -0.25", -0.25),
        ("Pages 10-20", 20.0),
        ("Final: \\boxed{1,000} (check: 999 + 1)", 1000.0),
        ("1,234,567 people", 1234567.0),
        ("答案是42", 42.0),
        ("No number here.", None),
        ("#### \n nothing after, but 9 before? no: 9", 9.0),
    ],
)
def test_extract_number(text: str, expected: float | None) -> None:
    assert extract_number(text) == expected


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("The answer is $1,234.50.", "1234.5", True),
        ("Natalia sold 48 + 24 = 72 clips.\n#### 72", "Step one... #### 72", True),
        ("72", "#### 72", True),
        ("The answer is 72.", "72.0", True),
        ("The answer is 71.", "72", False),
        ("0.75", "3/4", True),
        ("The answer is 50%", "50", True),
        ("I don't know.", "72", False),
        ("-5", "5", False),
        ("12", "10|||12", True),
    ],
)
def test_numeric(prediction: str, reference: str, expected: bool) -> None:
    assert correct(NumericMatch(), prediction, reference) is expected


def test_numeric_tolerance() -> None:
    assert not correct(NumericMatch(), "3.14", "3.14159")
    assert correct(NumericMatch(rel_tol=1e-3), "3.14", "3.14159")
    assert correct(NumericMatch(abs_tol=0.01), "3.14", "3.1459")


def test_numeric_reference_without_number_raises() -> None:
    with pytest.raises(ScorerError, match=r"'ex-1'.*no number"):
        NumericMatch().score("42", "forty-two", EX)


@pytest.mark.parametrize("options", [{"rel_tol": -1}, {"abs_tol": float("nan")}, {"rel_tol": "1"}])
def test_numeric_options_are_validated(options: dict[str, object]) -> None:
    with pytest.raises(ScorerError):
        NumericMatch(**options)  # type: ignore[arg-type]


# --- choice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B)", "B"),
        ("b.", "B"),
        ("**B**", "B"),
        ("Answer: B", "B"),
        ("The answer is (c)", "C"),
        ("The answer is c.", "C"),
        ("The correct option is **D**, because ...", "D"),
        ("Let me think. (A) is wrong. The answer is B", "B"),
        ("B) Paris is the capital.", "B"),
        ("A. Paris", "A"),
        ("I think (A) is wrong and (D) is right.", "D"),
        ("Final answer: $\\boxed{C}$", "C"),
        ("the answer is a dog", None),
        ("I am not sure.", None),
        ("K", None),
        ("", None),
    ],
)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text) == expected


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("(c)", "C", True),
        ("The answer is (c)", "c", True),
        ("**B**", "(b)", True),
        ("Answer: A", "B", False),
        ("No idea", "A", False),
        ("D", "A|||D", True),
    ],
)
def test_choice(prediction: str, reference: str, expected: bool) -> None:
    assert correct(ChoiceMatch(), prediction, reference) is expected


def test_choice_letters_option() -> None:
    assert not correct(ChoiceMatch("ABCD"), "E", "A")  # E is no option: unreadable, wrong
    with pytest.raises(ScorerError, match="among ABCD"):
        correct(ChoiceMatch("ABCD"), "A", "E")
    assert correct(ChoiceMatch("abcdE"), "e", "E")
    for bad in ["", "AAB", "A1", 5]:
        with pytest.raises(ScorerError, match="letters"):
            ChoiceMatch(bad)  # type: ignore[arg-type]


def test_choice_reference_without_letter_raises() -> None:
    with pytest.raises(ScorerError, match="'ex-1'"):
        ChoiceMatch().score("A", "Paris", EX)


# --- regex -------------------------------------------------------------------------------


def test_regex_without_group_needs_no_reference() -> None:
    scorer = RegexMatch(r"^\d+$")
    assert not scorer.needs_reference
    assert correct(scorer, "123", None)
    assert not correct(scorer, "12a", "anything")


def test_regex_with_group_compares_normalized_group() -> None:
    scorer = RegexMatch(r"(?i)final answer:\s*(.+)")
    assert scorer.needs_reference
    assert correct(scorer, "Reasoning...\nFinal answer: The Eiffel Tower.", "eiffel tower")
    assert correct(scorer, "FINAL ANSWER: lyon", "Paris|||Lyon")
    assert not correct(scorer, "Final answer: Lyon", "Paris")
    assert not correct(scorer, "Lyon", "Lyon")  # no match at all


def test_regex_optional_group_that_did_not_match_is_wrong() -> None:
    assert not correct(RegexMatch(r"x(y)?"), "x", "y")


@pytest.mark.parametrize("pattern", ["(unclosed", "", "*a"])
def test_regex_bad_pattern_raises_at_construction(pattern: str) -> None:
    with pytest.raises(ScorerError, match="pattern"):
        RegexMatch(pattern)


# --- contains ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("I believe the answer is Paris, France.", "Paris", True),
        ("THE EIFFEL   TOWER is in Paris", "the Eiffel Tower", True),
        ("concatenate", "cat", False),
        ("It is Lyon.", "Paris|||Lyon", True),
        ("It is Nice.", "Paris|||Lyon", False),
        ("It costs $50.", "$5", False),
        ("It costs $5.", "$5", True),
        # a number is not found inside a longer number
        ("The Earth has a total of 7,982 non-planetary moons.", "7", False),
        ("There are 7.5 of them.", "7", False),
        ("There are 17 of them.", "7", False),
        ("There are 7, or 8.", "7", True),
    ],
)
def test_contains(prediction: str, reference: str, expected: bool) -> None:
    assert correct(Contains(), prediction, reference) is expected


def test_contains_blank_reference_raises() -> None:
    with pytest.raises(ScorerError, match="blank"):
        Contains().score("anything", " ||| ", EX)


# --- rouge_l -----------------------------------------------------------------------------


def test_rouge_l_hand_computed() -> None:
    # LCS "the cat on the mat" = 5 tokens of 6 and 6: P = R = F = 5/6, with or without stems.
    for stem in (True, False):
        result = RougeL(use_stemmer=stem).score("the cat sat on the mat", "the cat is on the mat", EX)
        assert result.score == pytest.approx(5 / 6)
        assert result.correct


def test_rouge_l_stemmer_matters() -> None:
    # Without stems only "the" and "running" match: 2/4. With stems cats→cat, running→run
    # also match "cat": 3/4.
    prediction, reference = "the cats are running", "the cat is running"
    assert RougeL(use_stemmer=False).score(prediction, reference, EX).score == pytest.approx(0.5)
    assert RougeL().score(prediction, reference, EX).score == pytest.approx(0.75)


def test_rouge_l_threshold_and_alternatives() -> None:
    assert RougeL(threshold=0.9).score("the cat sat on the mat", "the cat is on the mat", EX) == (
        ScoreResult(pytest.approx(5 / 6), False)  # type: ignore[arg-type]
    )
    result = RougeL().score("a dog barks", "the cat sat|||a dog barks", EX)
    assert result == ScoreResult(1.0, True)
    assert RougeL().score("", "a dog barks", EX) == ScoreResult(0.0, False)
    assert RougeL.continuous


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), True])
def test_rouge_l_threshold_is_validated(threshold: float) -> None:
    with pytest.raises(ScorerError, match="threshold"):
        RougeL(threshold=threshold)


# --- custom ------------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of user scoring functions, importable as ``user_scorers_mod``."""
    name = "user_scorers_mod"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            def same(prediction, reference):
                return prediction.strip().lower() == reference.strip().lower()

            def overlap(prediction, reference):
                p, r = set(prediction.split()), set(reference.split())
                return len(p & r) / len(r)

            def with_example(prediction, reference, example):
                return (1.0, True) if example.tags.get("easy") == "yes" else (0.0, False)

            def says_yes(prediction, reference):
                return "yes"

            def nan(prediction, reference):
                return float("nan")

            def boom(prediction, reference):
                raise ValueError("broken")

            def one_argument(prediction):
                return True

            class Holder:
                @staticmethod
                def check(prediction, reference):
                    return True

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_custom_bool_function(user_module: str) -> None:
    scorer = get_scorer(f"{user_module}:same")
    assert isinstance(scorer, CustomScorer)
    assert scorer.name == f"{user_module}:same"
    assert scorer.score(" Yes ", "yes", EX) == ScoreResult(1.0, True)
    assert scorer.score("no", "yes", EX) == ScoreResult(0.0, False)


def test_custom_number_uses_threshold(user_module: str) -> None:
    scorer = get_scorer(f"python:{user_module}:overlap", continuous=True)
    assert scorer.score("a b x y", "a b c d", EX) == ScoreResult(0.5, True)
    strict = get_scorer(f"{user_module}:overlap", threshold=0.75, continuous=True)
    assert strict.score("a b x y", "a b c d", EX) == ScoreResult(0.5, False)


def test_custom_function_may_take_the_example(user_module: str) -> None:
    scorer = get_scorer(f"{user_module}:with_example")
    easy = Example(id="e", reference="r", tags={"easy": "yes"})
    assert scorer.score("p", "r", easy) == ScoreResult(1.0, True)
    assert scorer.score("p", "r", EX) == ScoreResult(0.0, False)


def test_custom_dotted_function_and_file_path(user_module: str, tmp_path: Path) -> None:
    assert get_scorer(f"{user_module}:Holder.check").score("p", "r", EX).correct
    path = tmp_path / "user_scorers_mod.py"
    assert get_scorer(f"{path}:same").score("a", "A", EX).correct


def test_custom_callable_directly() -> None:
    scorer = CustomScorer(lambda p, r: (0.25, p == r), continuous=True, name="mine")
    assert scorer.name == "mine"
    assert scorer.score("x", "x", EX) == ScoreResult(0.25, True)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("says_yes", "returned str 'yes'"),
        ("nan", "returned float nan"),
        ("boom", "raised ValueError on example 'ex-1': broken"),
    ],
)
def test_custom_bad_return_or_exception(user_module: str, function: str, message: str) -> None:
    scorer = get_scorer(f"{user_module}:{function}")
    with pytest.raises(ScorerError) as info:
        scorer.score("p", "r", EX)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("{mod}:missing", "has no function 'missing'"),
        ("{mod}:NOT_CALLABLE", "not a function"),
        ("{mod}:one_argument", "must take (prediction, reference)"),
        ("/no/such/file.py:f", "no file"),
    ],
)
def test_custom_import_errors(user_module: str, spec: str, message: str) -> None:
    with pytest.raises(ScorerError) as info:
        get_scorer(spec.format(mod=user_module))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_custom_module_that_fails_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_scorer_mod.py").write_text("raise RuntimeError('bad module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ScorerError, match="RuntimeError: bad module"):
        get_scorer("broken_scorer_mod:f")


# --- registry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("exact", ExactMatch),
        ("numeric", NumericMatch),
        ("choice", ChoiceMatch),
        ("contains", Contains),
        ("rouge_l", RougeL),
        ("rouge-l", RougeL),
        ("rougeL", RougeL),
        ("  Exact ", ExactMatch),
        ("regex:^a", RegexMatch),
    ],
)
def test_get_scorer_names(spec: str, cls: type[Scorer]) -> None:
    assert type(get_scorer(spec)) is cls


def test_get_scorer_passes_options() -> None:
    scorer = get_scorer("regex", pattern=r"(\d+)")
    assert isinstance(scorer, RegexMatch) and scorer.pattern == r"(\d+)"
    assert get_scorer("regex:a:b").pattern == "a:b"  # type: ignore[attr-defined]
    assert get_scorer("rouge-l", threshold=0.3).threshold == 0.3  # type: ignore[attr-defined]


def test_get_scorer_unknown_lists_known_names() -> None:
    with pytest.raises(ScorerError) as info:
        get_scorer("bleu")
    message = str(info.value)
    assert "unknown scorer 'bleu'" in message
    for name in ("exact", "numeric", "choice", "regex", "contains", "rouge_l"):
        assert name in message


def test_get_scorer_option_errors() -> None:
    with pytest.raises(ScorerError, match="cannot take the options given"):
        get_scorer("exact", threshold=0.5)
    with pytest.raises(ScorerError, match="pattern"):
        get_scorer("regex")
    with pytest.raises(ScorerError, match="twice"):
        get_scorer("regex:a", pattern="b")
    with pytest.raises(ScorerError, match="pattern"):
        get_scorer("regex:(")
    with pytest.raises(ScorerError):
        get_scorer("")


def test_register_scorer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deltaeval.scoring.SCORERS", dict(SCORERS))
    import deltaeval.scoring as scoring

    register_scorer("loose", lambda: ExactMatch(normalize=True))
    assert isinstance(get_scorer("loose"), ExactMatch)
    with pytest.raises(ScorerError, match="already registered"):
        register_scorer("loose", ExactMatch)
    register_scorer("loose", Contains, replace=True)
    assert isinstance(get_scorer("loose"), Contains)
    with pytest.raises(ScorerError, match="cannot register"):
        register_scorer("a:b", ExactMatch)
    register_scorer("not_a_scorer", lambda: 42)
    with pytest.raises(ScorerError, match="not a Scorer"):
        get_scorer("not_a_scorer")
    assert "loose" in scoring.SCORERS


# --- score_run ---------------------------------------------------------------------------


def make_run() -> Run:
    examples = (
        Example("q1", "2+2?", reference="4"),
        Example("q2", "3+3?", reference="#### 6"),
        Example("q3", "5+5?", reference="10"),
        Example("q4", "1+1?", reference="2"),
    )
    outputs = (
        Output("q1", text="The answer is 4."),
        Output("q2", text="It is 7", score=1.0, correct=True),  # stale values get replaced
        Output("q3", text=None, error="timeout"),
        Output("q4", text="2", error="truncated"),  # an error stays wrong, even if right
    )
    return Run(name="r", examples=examples, outputs=outputs, model="m")


def test_score_run_fills_scores_and_keeps_errors_wrong() -> None:
    run = make_run()
    scored = score_run(run, get_scorer("numeric"))
    assert scored is not run
    assert [(o.score, o.correct) for o in scored.outputs] == [
        (1.0, True),
        (0.0, False),
        (0.0, False),
        (0.0, False),
    ]
    assert [o.error for o in scored.outputs] == [None, None, "timeout", "truncated"]
    assert scored.outputs[0].text == "The answer is 4."
    assert scored.has_correctness and scored.has_scores
    assert (scored.name, scored.model, scored.examples) == (run.name, run.model, run.examples)
    assert run.outputs[0].correct is None  # the original run is untouched


def test_score_run_missing_references() -> None:
    run = Run(
        name="r",
        examples=(Example("a", reference="1"), Example("b"), Example("c")),
        outputs=(Output("a", text="1"), Output("b", text="2"), Output("c", error="x")),
    )
    with pytest.raises(ScorerError) as info:
        score_run(run, get_scorer("exact"))
    assert "1 of 3 examples has no reference ('b')" in str(info.value)
    # a scorer that needs no reference scores the run anyway
    scored = score_run(run, get_scorer(r"regex:^\d$"))
    assert [o.correct for o in scored.outputs] == [True, True, False]

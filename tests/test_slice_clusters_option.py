"""``compare --slice-clusters minilm``: input clusters of sentence embeddings find a topic that
shares no words, where the inputs' TF-IDF cannot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deltaeval.behaviour.embedding import minilm_unavailable
from deltaeval.cli import main
from deltaeval.slices.api import CLUSTER_VECTORS

TOPICS = {
    "animal": "cheetah giraffe penguin elephant dolphin kangaroo octopus owl wolf tiger zebra camel koala "
    "panda rabbit squirrel hedgehog otter beaver flamingo crocodile gorilla hippopotamus leopard moose",
    "city": "Paris Tokyo Nairobi Lima Oslo Cairo Mumbai Toronto Sydney Berlin Madrid Istanbul Bangkok "
    "Dublin Prague Havana Seoul Lagos Vienna Lisbon Athens Boston Reykjavik Santiago Hanoi",
    "instrument": "violin trumpet cello clarinet harp banjo accordion oboe saxophone ukulele bassoon "
    "xylophone tuba harmonica mandolin piano flute trombone sitar bagpipes marimba harpsichord "
    "didgeridoo tambourine synthesizer",
    "food": "lasagna sushi croissant paella burrito dumpling risotto falafel pancake gazpacho curry "
    "baguette ramen taco omelette brownie goulash pretzel hummus waffle kebab pierogi tiramisu ceviche "
    "couscous",
}
#: Every topic is asked in the same two ways: only the one word that names the thing differs.
TEMPLATES = ("Tell me about the {x}.", "Say something about a {x}.")


def _runs(folder: Path, seed: int) -> list[str]:
    """Two runs of 200 questions; new breaks half of the questions about cities (3% elsewhere)."""
    rng = np.random.default_rng(seed)
    rows, topics = [], []
    for topic, names in TOPICS.items():
        for name in names.split():
            for template in TEMPLATES:
                rows.append(template.format(x=name))
                topics.append(topic)
    broken = rng.random(len(rows)) < np.where(np.array(topics) == "city", 0.5, 0.03)
    for run, flags in (("v1", np.zeros(len(rows), dtype=bool)), ("v2", broken)):
        lines = [
            json.dumps({"id": f"q{i:03d}", "input": text, "output": "x", "correct": not bool(flags[i])})
            for i, text in enumerate(rows)
        ]
        (folder / f"{run}.jsonl").write_text("\n".join(lines) + "\n")
    return topics


def _section(folder: Path, *options: str) -> dict:
    out = folder / "r.json"
    args = ["compare", str(folder / "v1.jsonl"), str(folder / "v2.jsonl"), "--slices", "--no-behaviour"]
    assert main([*args, *options, "--json", str(out), "-q"]) == 0
    return json.loads(out.read_text())["discovered_slices"]


@pytest.mark.skipif(minilm_unavailable() is not None, reason=f"MiniLM: {minilm_unavailable()}")
def test_minilm_clusters_find_a_topic_that_tfidf_cannot(tmp_path: Path) -> None:
    topics = _runs(tmp_path, seed=0)
    city = {f"q{i:03d}" for i, t in enumerate(topics) if t == "city"}

    tfidf = _section(tmp_path)
    assert tfidf["clusters_of"] == CLUSTER_VECTORS["tfidf"]
    assert not tfidf["confirmed"]  # the inputs share no word that says "city"

    minilm = _section(tmp_path, "--slice-clusters", "minilm")
    assert minilm["clusters_of"] == CLUSTER_VECTORS["minilm"]
    top = minilm["confirmed"][0]
    assert top["description"].startswith("inputs about ") and "cluster" in top["description"]
    assert 40 <= top["support"] <= 54
    assert set(top["example_ids"]) <= city
    assert top["confirmation"]["rate"] > 3 * top["confirmation"]["rest_rate"]


def test_an_unknown_slice_cluster_kind_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _runs(tmp_path, seed=1)
    args = ["compare", str(tmp_path / "v1.jsonl"), str(tmp_path / "v2.jsonl"), "--slice-clusters", "bert"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--slice-clusters" in err[0] and "tfidf or minilm" in err[0]


@pytest.mark.skipif(minilm_unavailable() is not None, reason=f"MiniLM: {minilm_unavailable()}")
def test_judge_takes_minilm_clusters_too() -> None:
    """`judge(slice_clusters="minilm")`: a topic where the judge prefers old, found by MiniLM clusters."""
    from deltaeval.judging import CallableJudge
    from deltaeval.judging.report import judge
    from deltaeval.types import Example, Output, Run

    examples, topics = [], []
    for topic, names in TOPICS.items():
        for name in names.split():
            for template in TEMPLATES:
                examples.append(Example(id=f"q{len(examples):03d}", input=template.format(x=name)))
                topics.append(topic)
    rng = np.random.default_rng(2)
    old_wins = rng.random(len(examples)) < np.where(np.array(topics) == "city", 0.6, 0.05)
    old = Run("v1", tuple(examples), tuple(Output(e.id, text=f"old-{i}") for i, e in enumerate(examples)))
    new = Run("v2", tuple(examples), tuple(Output(e.id, text=f"new-{i}") for i, e in enumerate(examples)))

    def planned(question: str, a: str, b: str) -> str:
        old_first = a.startswith("old")
        prefers_old = bool(old_wins[int(a.rsplit("-", 1)[1])])
        return "A>B" if prefers_old == old_first else "B>A"

    judged = CallableJudge(planned, name="planned")
    report = judge(old, new, judged, n_boot=50, slices=True, slice_clusters="minilm")
    section = report.data["discovered_slices"]
    assert section["clusters_of"] == CLUSTER_VECTORS["minilm"]
    city = {e.id for e, t in zip(examples, topics, strict=True) if t == "city"}
    top = section["confirmed"][0]
    assert "cluster" in top["description"] and set(top["example_ids"]) <= city

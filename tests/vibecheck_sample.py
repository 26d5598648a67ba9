"""A VibeCheck-style wide CSV made by code: one friendly and one cold answer per question.

The columns follow VibeCheck's ``friendly_and_cold_sample.csv``: ``question``, ``category``,
the two models' answers (``friendly``, ``cold``), which model was shown as A and as B
(``a_type``, ``b_type``) and which one the annotator preferred (``preference``, a model name;
the friendly answer wins four times in five).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

TOPICS = {
    "cooking": ["boil an egg", "make bread rise", "keep pasta from sticking", "season a cast iron pan"],
    "travel": ["pack light for a week", "beat jet lag", "find cheap flights", "stay safe in a new city"],
    "health": ["sleep better", "start running", "drink more water", "stretch after work"],
    "money": ["save for a holiday", "start an emergency fund", "cut grocery costs", "track spending"],
    "tech": ["back up my photos", "speed up my laptop", "pick a strong password", "set up a home wifi"],
}
OPENERS = ["Great question!", "Oh, I love this one!", "Happy to help!", "What a fun thing to ask!"]
CLOSERS = ["You've got this!", "Have fun with it!", "Hope that helps, friend!", "Enjoy!"]


def sample_rows(seed: int = 0) -> list[dict[str, str]]:
    """About 60 rows: every topic asked three ways."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for category, tasks in TOPICS.items():
        for task in tasks:
            for phrasing in ("How do I {}?", "What's the best way to {}?", "Any tips to {}?"):
                question = phrasing.format(task)
                friendly = (
                    f"{rng.choice(OPENERS)} To {task}, start small and be patient with yourself - "
                    f"the first try rarely goes perfectly, and that's okay. {rng.choice(CLOSERS)}"
                )
                cold = f"To {task}: follow the standard procedure. Results vary. No further detail required."
                a_type, b_type = ("friendly", "cold") if rng.random() < 0.5 else ("cold", "friendly")
                preference = "friendly" if rng.random() < 0.8 else "cold"
                rows.append(
                    {
                        "question": question,
                        "category": category,
                        "friendly": friendly,
                        "cold": cold,
                        "a_type": a_type,
                        "b_type": b_type,
                        "preference": preference,
                    }
                )
    return rows


def write_sample(path: Path, seed: int = 0) -> Path:
    """Write the sample CSV (VibeCheck's column order) and return its path."""
    rows = sample_rows(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path

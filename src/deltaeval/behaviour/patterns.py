"""Patterns and word lists of the built-in axes.

Markdown patterns read the text as written, one line at a time (a line is the text between
``\\n`` characters); the format axes apply them to the output's prose only (see :mod:`.code`).
Word lists and phrases are matched on the output's *word sequence*: its words (see :mod:`.text`)
joined by single spaces, so punctuation and markup between words are ignored ("I think, though"
holds "i think").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from deltaeval.behaviour.text import split_words

# --- markdown, per line ------------------------------------------------------------------------

#: A bullet item: optional indentation, one of ``- * + •``, blanks, then text.
BULLET_RE = re.compile(r"[ \t]*[-*+\u2022][ \t]+\S")
#: A numbered item: optional indentation, 1–3 digits, ``.`` or ``)``, blanks, then text.
NUMBERED_RE = re.compile(r"[ \t]*\d{1,3}[.)][ \t]+\S")
#: An ATX header: up to 3 blanks, 1–6 ``#``, blanks, then text.
HEADER_RE = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+\S")
#: A list item's marker and the blanks after it (bullet or number), where text follows.
LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+\u2022]|\d{1,3}[.)])([ \t]+)(?=\S)")
#: Characters a code fence is made of (three or more of one of them).
FENCE_CHARS = "`~"
#: Characters a table's delimiter row (``|---|:---:|``) is made of.
TABLE_DELIMITER_CHARS = " \t|:\r-"

# --- markdown, inline ---------------------------------------------------------------------------

BOLD_RE = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
#: A code span: a run of backticks, text, and the next run of exactly as many on the same line.
#: (It opens with a plain backtick, then looks back, so that the regex engine can skip ahead to
#: the next backtick.)
INLINE_CODE_RE = re.compile(r"(`(?<!``)`*)(?!`)(.+?)(?<!`)\1(?!`)")
LINK_RE = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)|(?:https?://|www\.)[^\s)\]>]+")
EMOJI_RE = re.compile(
    "[\U0001f1e6-\U0001f1ff\U0001f300-\U0001f5ff\U0001f600-\U0001f64f\U0001f680-\U0001f6ff"
    "\U0001f900-\U0001f9ff\U0001fa70-\U0001faff\u2600-\u26ff\u2700-\u27bf\u2b50\u2b55]"
)

# --- words and phrases --------------------------------------------------------------------------

FIRST_PERSON = frozenset(
    split_words("""i me my mine myself we us our ours ourselves i'm i've i'd i'll we're we've we'd we'll""")
)
SECOND_PERSON = frozenset(
    ["you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'd", "you'll", "y'all"]
)
APOLOGY_WORDS = frozenset(
    split_words(
        """sorry apology apologies apologize apologise apologized apologised apologizes apologises
    apologizing apologising"""
    )
)

HEDGE_WORDS = frozenset(
    split_words(
        """might may perhaps maybe possibly probably likely unlikely seem seems seemed seemingly
    apparently arguably presumably somewhat generally typically usually roughly
    approximately potentially conceivably tend tends"""
    )
)
#: Multi-word hedges. None contains a hedge word, and no two can overlap in a word sequence,
#: so a hedge is never counted twice (tests check this).
HEDGE_PHRASES = (
    "i think",
    "i believe",
    "i guess",
    "i suppose",
    "i feel",
    "i'd say",
    "i would say",
    "not sure",
    "not certain",
    "it depends",
    "to some extent",
    "in some cases",
    "in general",
    "as far as i know",
    "to my knowledge",
    "if i'm not mistaken",
    "sort of",
    "kind of",
    "more or less",
    "could be",
)


def phrase_re(alternatives: Iterable[str]) -> re.Pattern[str]:
    """A pattern counting whole-word occurrences of ``alternatives`` in a word sequence.

    Longer alternatives are tried first, so a phrase wins over a shorter one at the same place.
    """
    ordered = sorted(alternatives, key=lambda s: (-len(s), s))
    return re.compile(r"(?<![^ ])(?:" + "|".join(ordered) + r")(?![^ ])")


HEDGE_RE = phrase_re([*HEDGE_PHRASES, *sorted(HEDGE_WORDS)])

# The fused pass runs REFUSAL_RE and DISCLAIMER_RE only on outputs whose words can form a match
# (:data:`deltaeval.behaviour.fused._CUE_BITS`): a new branch needs its words there too.
_REFUSAL_VERBS = (
    "help|assist|provide|fulfil|fulfill|comply|answer|create|write|generate|give|share|support|"
    "engage|produce|complete|do that|do this"
)
REFUSAL_RE = phrase_re(
    [
        r"(?:i|we) (?:cannot|can't|can not|won't|will not|am unable to|are unable to"
        r"|am not able to|are not able to) (?:" + _REFUSAL_VERBS + ")",
        r"(?:i'm|we're) (?:unable to|not able to) (?:" + _REFUSAL_VERBS + ")",
        r"i (?:must|have to) (?:decline|refuse)",
        r"as an ai",
        r"as a (?:large )?language model",
        r"(?:i'm|i am) (?:just |only )?an ai",
    ]
)

_PROFESSIONALS = (
    "professional|doctor|physician|lawyer|attorney|advisor|adviser|expert|specialist|therapist|"
    "accountant|pharmacist|healthcare provider|medical professional|financial advisor"
)
DISCLAIMER_RE = phrase_re(
    [
        r"consult (?:with )?(?:a|an|your)(?: qualified| licensed| certified)? (?:" + _PROFESSIONALS + ")",
        r"seek (?:professional|medical|legal) (?:help|advice|attention)",
        r"not (?:financial|legal|medical|professional|investment) advice",
        r"not a substitute for",
        r"for (?:general )?informational purposes",
        r"(?:i'm|i am) not a (?:" + _PROFESSIONALS + ")",
        r"please note that",
        r"it(?: is|'s) important to (?:note|remember)",
        r"does not constitute",
    ]
)

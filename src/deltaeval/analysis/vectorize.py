"""Word counts and TF-IDF vectors of texts, as scikit-learn's vectorizers compute them.

:func:`count_matrix` gives what ``sklearn.feature_extraction.text.CountVectorizer`` gives for
the token patterns used here (:data:`WORD_PATTERN`, :data:`TERM_PATTERN`), lower-cased, with
optional stop words and binary counts: a sparse (texts x terms) matrix with the terms sorted.
:func:`tfidf_matrix` gives ``TfidfVectorizer(sublinear_tf=True)``'s rows: ``1 + log(count)``
times the smoothed IDF ``1 + log((1 + n) / (1 + df))``, each row scaled to unit length. Equal
texts are tokenized once. Texts in plain ASCII are split with ``str.translate`` and
``str.split`` (the same tokens as the regular expression, several times faster); others with
the regular expression itself. Importing scikit-learn costs seconds (it imports SciPy's
statistics and pandas): more than vectorizing a few thousand texts.
"""

from __future__ import annotations

import re
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Tokens of the TF-IDF similarity: runs of letters, digits or underscores.
WORD_PATTERN = r"(?u)\b\w+\b"
#: Terms of the c-TF-IDF cluster descriptions: three or more letters of any script ("el", "es",
#: "de" are mostly function words in languages without a stop-word list).
TERM_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"

#: scikit-learn's English stop words (``sklearn.feature_extraction.text.ENGLISH_STOP_WORDS``,
#: from the Glasgow Information Retrieval Group's list), copied so that no scikit-learn import
#: is needed; a test checks the copy.
ENGLISH_STOP_WORDS = frozenset(
    """
a about above across after afterwards again against all almost alone along already also although
always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere
are around as at back be became because become becomes becoming been before beforehand behind being
below beside besides between beyond bill both bottom but by call can cannot cant co con could
couldnt cry de describe detail do done down due during each eg eight either eleven else elsewhere
empty enough etc even ever every everyone everything everywhere except few fifteen fifty fill find
fire first five for former formerly forty found four from front full further get give go had has
hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how
however hundred i ie if in inc indeed interest into is it its itself keep last latter latterly least
less ltd made many may me meanwhile might mill mine more moreover most mostly move much must my
myself name namely neither never nevertheless next nine no nobody none noone nor not nothing now
nowhere of off often on once one only onto or other others otherwise our ours ourselves out over own
part per perhaps please put rather re same see seem seemed seeming seems serious several she should
show side since sincere six sixty so some somehow someone something sometime sometimes somewhere
still such system take ten than that the their them themselves then thence there thereafter thereby
therefore therein thereupon these they thick thin third this those though three through throughout
thru thus to together too top toward towards twelve twenty two un under until up upon us very via
was we well were what whatever when whence whenever where whereafter whereas whereby wherein
whereupon wherever whether which while whither who whoever whole whom whose why will with within
without would yet you your yours yourself yourselves
""".split()  # noqa: SIM905 (one list of words, readable)
)

_WORD_CHARS = set(string.ascii_letters + string.digits + "_")
#: ASCII characters outside ``\\w`` become spaces.
_SPLIT_ASCII = str.maketrans({chr(i): " " for i in range(128) if chr(i) not in _WORD_CHARS})
_WORDS = re.compile(WORD_PATTERN)


def words(text: str) -> list[str]:
    """The lower-cased tokens of :data:`WORD_PATTERN` in ``text``.

    >>> words("It's 2 o'clock_now!")
    ['it', 's', '2', 'o', 'clock_now']
    """
    lower = text.lower()
    if lower.isascii():
        return lower.translate(_SPLIT_ASCII).split()
    return _WORDS.findall(lower)


_TERM = re.compile(r"[^\W\d_]{3,}")


def is_term(token: str) -> bool:
    """Whether a token of :func:`words` is a term of :data:`TERM_PATTERN`: all letters (of any
    script), at least three. The terms of a text are exactly its words that are terms (the
    pattern's word boundaries fall only at the ends of a run of word characters).

    >>> [w for w in words("The año 2024 cat_s catalogue abc1 Éclair") if is_term(w)]
    ['the', 'año', 'catalogue', 'éclair']
    """
    return _TERM.fullmatch(token) is not None


def _unique(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts in first-seen order and, per text, the index of its distinct text."""
    index: dict[str, int] = {}
    inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    return list(index), inverse


def count_matrix(
    texts: Sequence[str], tokenize: Callable[[str], list[str]] = words
) -> tuple[Any, list[str], np.ndarray]:
    """Token counts of the distinct texts: ``(counts, terms, inverse)``.

    ``counts`` is a sparse CSR matrix (distinct texts x terms, int64; columns in the order of
    the sorted ``terms``, sorted indices), ``inverse[i]`` the row of ``texts[i]``.
    """
    from scipy.sparse import csr_matrix

    distinct, inverse = _unique(texts)
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__
    indices: list[int] = []
    values: list[int] = []
    indptr = [0]
    for text in distinct:
        counts = Counter(tokenize(text))
        indices.extend(map(vocabulary.__getitem__, counts))
        values.extend(counts.values())
        indptr.append(len(indices))
    names = sorted(vocabulary)
    remap = np.empty(len(names), dtype=np.int64)
    old_ids = np.fromiter((vocabulary[t] for t in names), dtype=np.int64, count=len(names))
    remap[old_ids] = np.arange(len(names))
    matrix = csr_matrix(
        (
            np.array(values, dtype=np.int64),
            remap[np.array(indices, dtype=np.int64)],
            np.array(indptr, dtype=np.int64),
        ),
        shape=(len(distinct), len(names)),
    )
    matrix.sort_indices()
    return matrix, names, inverse


def term_counts(
    counts: Any, names: list[str], *, stop_words: frozenset[str] = frozenset(), binary: bool = False
) -> tuple[Any, list[str]]:
    """The columns of :func:`count_matrix`'s word counts that are terms (:func:`is_term`) and
    not ``stop_words``: what ``CountVectorizer(token_pattern=TERM_PATTERN, stop_words=...)``
    counts. With ``binary``, a term counts once per text that uses it."""
    keep = np.array([is_term(t) and t not in stop_words for t in names], dtype=bool)
    kept = counts[:, np.flatnonzero(keep)].tocsr()
    if binary:
        kept.data = np.ones_like(kept.data)
    return kept, [t for t, k in zip(names, keep.tolist(), strict=True) if k]


def tfidf_from_counts(counts: Any, inverse: np.ndarray) -> Any:
    """L2-normalised TF-IDF rows of the texts whose distinct rows of word counts are ``counts``
    (``inverse[i]``: the row of text i), fitted on all the texts."""
    from scipy.sparse import csr_matrix

    n = inverse.size
    if counts.shape[1] == 0:
        return csr_matrix((n, 1))
    multiplicity = np.bincount(inverse, minlength=counts.shape[0]).astype(float)
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    df = np.bincount(counts.indices, weights=multiplicity[rows], minlength=counts.shape[1])
    idf = np.log((n + 1.0) / (df + 1.0)) + 1.0
    data = np.log(counts.data.astype(float))
    data += 1.0
    data *= idf[counts.indices]
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=counts.shape[0]))
    data /= np.where(norms > 0, norms, 1.0)[rows]
    unique = csr_matrix((data, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape)
    return unique[inverse]


def tfidf_matrix(texts: Sequence[str]) -> Any:
    """L2-normalised TF-IDF rows (sparse CSR, float64) of ``texts``, fitted on them, as
    ``TfidfVectorizer(sublinear_tf=True, token_pattern=WORD_PATTERN)``; a (len, 1) zero matrix
    when no text has a word."""
    counts, _, inverse = count_matrix(texts)
    return tfidf_from_counts(counts, inverse)

"""Secrets out of every text a backend hands on: a registry of secret values and their forms.

A backend that sends a secret (an API key, a URL password) registers it with its ``Redactor``;
every result it reports passes through the redactor before anything else sees it (see
``Backend.reporting``), so errors, cached answers, runs, judgments, reports and terminal output
never hold the value. A secret is replaced in the forms it takes in messages, too: escaped as in
``repr`` or JSON (``b'Bearer sk-…\\n'``), percent-encoded, and without surrounding whitespace.

Error texts lose every registered secret. Model answers lose secrets of at least
:data:`MIN_OUTPUT_SECRET_CHARS` characters: placeholders such as ``ollama`` or ``EMPTY`` guard
nothing, and replacing every occurrence of a short word would corrupt the answers.
"""

from __future__ import annotations

import contextlib
import json
from urllib.parse import quote, quote_plus

MASK = "***"
#: shorter secrets (placeholder keys) are redacted from error texts only, not from model answers
MIN_OUTPUT_SECRET_CHARS = 8


def secret_forms(secret: str) -> set[str]:
    """The texts a secret may appear as in a message: itself, escaped, encoded, stripped.

    Examples
    --------
    >>> sorted(secret_forms("sk-1\\n"))
    ['sk-1', 'sk-1\\n', 'sk-1%0A', 'sk-1\\\\n']
    """
    forms = {secret, secret.strip(), repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1]}
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms.add(repr(secret.encode("utf-8"))[2:-1])
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(repr(secret.encode("latin-1"))[2:-1])
    forms.update((quote(secret, safe=""), quote_plus(secret, safe="")))
    forms.discard("")
    return forms


class Redactor:
    """Registered secrets, replaced by ``***`` wherever they (or their escaped forms) occur.

    Examples
    --------
    >>> redact = Redactor()
    >>> redact.add("sk-secret-1234")
    >>> redact("HTTP 401: bad key Bearer sk-secret-1234")
    'HTTP 401: bad key Bearer ***'
    >>> redact
    Redactor(1 secret)
    """

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._forms: tuple[str, ...] = ()
        self._output_forms: tuple[str, ...] = ()

    def add(self, secret: str | None) -> None:
        """Register a secret value (None and empty strings are ignored)."""
        if not secret or secret in self._secrets:
            return
        self._secrets.add(secret)
        forms: set[str] = set()
        output_forms: set[str] = set()
        for value in self._secrets:
            these = secret_forms(value)
            forms |= these
            output_forms |= {f for f in these if len(f) >= MIN_OUTPUT_SECRET_CHARS}
        # longest first: a secret's escaped form is replaced whole, not around a shorter form
        self._forms = tuple(sorted(forms, key=lambda f: (-len(f), f)))
        self._output_forms = tuple(sorted(output_forms, key=lambda f: (-len(f), f)))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        """``text`` with every registered secret replaced (for errors and other messages)."""
        return _replace(text, self._forms)

    def output(self, text: str) -> str:
        """A model's answer with every secret of credential length replaced."""
        return _replace(text, self._output_forms)

    def __repr__(self) -> str:  # never the values
        n = len(self._secrets)
        return f"Redactor({n} secret{'' if n == 1 else 's'})"


def _replace(text: str, forms: tuple[str, ...]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text

"""Redaction: the values of secret inputs and credentials never leave a run in clear.

A :class:`Redactor` knows a run's secret texts and returns copies of values with every
occurrence of one replaced by ``***``: inside any string (``"Bearer <token>"``), in any letter
case (``upper($input.token)``), in dict keys (``{$input.token: 1}``), and numbers whose digits
hold one. The runner passes everything it stores, emits or answers through it (step inputs,
outputs and errors, events and logs, the execution's outputs and error, debugger answers).

The limit, documented in docs/dsl.md ("Secrets and credentials"): a workflow author who encodes
a secret (base64, reversed, one character at a time, a hash) can still reveal it; redaction
catches the value as it is, not every function of it. Secrets shorter than
:data:`MIN_SUBSTRING` characters are redacted only where a whole value equals them, since
replacing every "ab" in every text would make outputs unreadable without protecting anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "***"
MIN_SUBSTRING = 4


def secret_texts(value: Any) -> Iterator[str]:
    """The texts to redact for one secret value: itself, or each leaf of a JSON credential."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_texts(item)


class Redactor:
    """Replaces a run's secret texts by ``***`` in any JSON value (a copy; keys too)."""

    __slots__ = ("_pattern", "_texts", "_whole")

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self._texts: set[str] = set()
        self._whole: set[str] = set()  # casefolded: values equal to these are redacted whole
        self._pattern: re.Pattern[str] | None = None
        self.add(*values)

    def add(self, *values: Any) -> None:
        """Learn more secret values (a credential resolved at step time, say)."""
        new = {t for v in values for t in secret_texts(v)} - self._texts
        if not new:
            return
        self._texts |= new
        self._whole |= {t.casefold() for t in new}
        long = sorted((t for t in self._texts if len(t) >= MIN_SUBSTRING), key=len, reverse=True)
        # Longest first, so a secret that contains another is replaced whole.
        self._pattern = re.compile("|".join(map(re.escape, long)), re.IGNORECASE) if long else None

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, value: str) -> str:
        if value.casefold() in self._whole:
            return REDACTED
        return self._pattern.sub(REDACTED, value) if self._pattern is not None else value

    def __call__(self, value: Any) -> Any:
        if not self._texts:
            return value
        return self._redact(value)

    def _redact(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self._redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact(v) for v in value]
        if not isinstance(value, bool) and isinstance(value, int | float):
            digits = str(value)
            return REDACTED if self.text(digits) != digits else value
        return value


def scrub(value: Any, secrets: Iterable[Any]) -> Any:
    """A copy of ``value`` with every secret in ``secrets`` redacted (see :class:`Redactor`)."""
    return Redactor(secrets)(value)

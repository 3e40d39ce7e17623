"""Error analysis: group recorded failures into recurring patterns and suggest what to do.

Pure functions over :class:`FailureSample` records; ``Store.failures`` reads the samples and
``Store.error_patterns`` groups them. Messages are grouped after :func:`normalise_message` has
replaced their volatile parts (ids, numbers, quoted values...) with placeholders, so "timed out
after 30s" and "timed out after 45s" on the same step count as one pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from hub.errors import ErrorCategory

__all__ = [
    "ErrorPattern",
    "FailureSample",
    "GENERIC_SUGGESTIONS",
    "SUGGESTIONS",
    "group_failures",
    "normalise_message",
    "suggestions",
]

# --- suggestions --------------------------------------------------------------------------------

SUGGESTIONS: dict[str, list[str]] = {
    ErrorCategory.TIMEOUT: [
        "Retry with a longer timeout: raise the step's timeout_s (or settings.timeout_s when "
        "the whole execution timed out).",
        "Check whether the service or task has become slow or overloaded; compare the step's "
        "duration with earlier runs.",
    ],
    ErrorCategory.CONNECTION: [
        "Check the endpoint: host, port and scheme in the URL, and that the service is up and "
        "reachable from the runtime's machines.",
        "Check the credentials or certificates the step uses, then retry.",
    ],
    ErrorCategory.HTTP_STATUS: [
        "Look at the status code and response body in the step's output.",
        "A 4xx means the request is wrong (URL, headers, body, auth): fix the step's "
        "parameters; a 5xx or 429 is the server's side: retry later or add a retry policy.",
    ],
    ErrorCategory.VALIDATION: [
        "Fix the inputs or parameters named in the message; retrying with the same values "
        "fails the same way.",
    ],
    ErrorCategory.EXPRESSION: [
        "Fix the expression: the message names the path that failed and the closest existing key.",
        "Check that the step it reads from ran and produced the output shape you expect.",
    ],
    ErrorCategory.NODE_ERROR: [
        "Read the step's error message and logs (hub logs <execution> --level error).",
        "If the failure was transient, retry the execution or give the step a retry policy.",
    ],
    ErrorCategory.RESOURCE_LIMIT: [
        "Lower the concurrency (settings.max_parallel_steps, fewer simultaneous executions) "
        "or raise the limit that was hit.",
    ],
    ErrorCategory.CANCELLED: [
        "The step or execution was cancelled; re-run it if that was not intended.",
    ],
    ErrorCategory.CIRCUIT_OPEN: [
        "The target kept failing, so its circuit breaker stopped calls to it for a while: fix "
        "or wait for the target (hub breakers ls shows when it is probed again), or reset the "
        "breaker with hub breakers reset KEY once it is back.",
        "A retry policy whose delays outlast the breaker's reset_timeout_s lets a later "
        "attempt through as the probe.",
    ],
    ErrorCategory.INTERRUPTED: [
        "The runtime died while the execution ran (a crashed actor or machine); check the "
        "runtime's logs, then retry from the failed step or re-run the execution.",
    ],
}

GENERIC_SUGGESTIONS = [
    "Read the error message and the execution's logs (hub logs <execution>), fix the cause, "
    "and re-run.",
]


def suggestions(category: str) -> list[str]:
    """Recovery suggestions for a failure category (a generic one for unknown categories)."""
    return list(SUGGESTIONS.get(category, GENERIC_SUGGESTIONS))


# --- normalising messages -----------------------------------------------------------------------

_UNITS = r"(?:ms|us|µs|ns|s|sec|secs|m|min|h|d|b|kb|kib|mb|mib|gb|gib|%)"

# Order matters: larger structures go first so their digits are not taken for plain numbers.
_RULES: list[tuple[re.Pattern[str], str]] = [
    # A query string carries request-specific values: keep the URL's path, drop the values.
    (re.compile(r"(\bhttps?://[^\s?#'\"]*)\?[^\s#'\"]*"), r"\1?<query>"),
    # Quotes that start or end inside a word are apostrophes (can't, Bob's), not quotes.
    (re.compile(r"(?<!\w)'[^'\n]*'(?!\w)"), "'<str>'"),
    (re.compile(r'(?<!\w)"[^"\n]*"(?!\w)'), '"<str>"'),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w:])",
            re.IGNORECASE,
        ),
        "<ts>",
    ),
    (
        re.compile(
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
        ),
        "<id>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<id>"),
    # Hex runs of 8+ with at least one digit and one letter: execution ids, hashes. Words made of
    # a-f letters only (deadbeef, "accede") stay, and all-digit runs are numbers.
    (
        re.compile(r"\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE),
        "<id>",
    ),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)"), "<ip>"),
    # An HTTP status is the failure itself (404 and 503 need different fixes): keep it.
    (
        re.compile(
            r"(?<![\w.])(?<!status )(?<!status: )(?<!status=)(?<!HTTP )(?<!code )"
            r"(?<!code: )(?<!code=)\d+(?:\.\d+)?(?=" + _UNITS + r"?(?!\w|\.\d))",
            re.IGNORECASE,
        ),
        "<n>",
    ),
]
_SPACES = re.compile(r"\s+")


def normalise_message(message: str) -> str:
    """``message`` with volatile parts replaced, so repeats of one failure compare equal.

    Replaces URL query strings (``?<query>``), quoted values (``'<str>'``, ``"<str>"``),
    timestamps (``<ts>``), UUIDs and hex ids (``<id>``), IPv4 addresses (``<ip>``) and numbers,
    durations and sizes (``<n>``, ``<n>s``, ``<n>MB``); collapses whitespace. HTTP status codes
    after ``status``/``HTTP``/``code`` are kept. Deterministic and idempotent.
    """
    text = _SPACES.sub(" ", message).strip()
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text


# --- grouping -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FailureSample(_Model):
    """One recorded failure: a failed step, or an execution that failed outside any step."""

    execution_id: str
    workflow_id: str
    node_id: str | None
    category: str
    message: str
    ts: datetime


class ErrorPattern(_Model):
    """Failures of one step (or of whole executions, ``node_id`` None) that look alike."""

    workflow_id: str
    node_id: str | None
    category: str
    pattern: str
    count: int
    first_seen: datetime
    last_seen: datetime
    example_message: str
    example_execution_id: str
    suggestions: list[str]


@dataclass
class _Group:
    count: int
    first_seen: datetime
    last: FailureSample


def group_failures(samples: Iterable[FailureSample]) -> list[ErrorPattern]:
    """Failures grouped by workflow, node, category and normalised message.

    Most frequent first, then most recently seen; the example is the newest failure of each
    group.
    """
    groups: dict[tuple[str, str | None, str, str], _Group] = {}
    for sample in samples:
        key = (
            sample.workflow_id,
            sample.node_id,
            sample.category,
            normalise_message(sample.message),
        )
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(count=1, first_seen=sample.ts, last=sample)
            continue
        group.count += 1
        group.first_seen = min(group.first_seen, sample.ts)
        if sample.ts > group.last.ts:
            group.last = sample
    patterns = [
        ErrorPattern(
            workflow_id=workflow_id,
            node_id=node_id,
            category=category,
            pattern=pattern,
            count=group.count,
            first_seen=group.first_seen,
            last_seen=group.last.ts,
            example_message=group.last.message,
            example_execution_id=group.last.execution_id,
            suggestions=suggestions(category),
        )
        for (workflow_id, node_id, category, pattern), group in groups.items()
    ]
    # Python's sort is stable: sort by the tie-breakers first, then by the real order.
    patterns.sort(key=lambda p: (p.workflow_id, p.node_id or "", p.category, p.pattern))
    patterns.sort(key=lambda p: (p.count, p.last_seen), reverse=True)
    return patterns

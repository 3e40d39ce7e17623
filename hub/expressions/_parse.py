"""From expression text to a checked Python AST, and from template text to its parts.

``$name`` tokens outside string literals are rewritten to an internal identifier that users cannot
write themselves (user names starting with ``_`` are refused, and a rewritten name is accepted
only at the exact place the rewriting put it). The text is then parsed with
``ast.parse(mode="eval")`` -- parsing only, nothing is ever compiled to code or run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import ExpressionError
from hub.expressions._limits import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE_LENGTH,
    resource_error,
)

REF_PREFIX = "_hub_ref_"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"0[xXoObB][0-9a-fA-F_]*"
    r"|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]*)?[jJ]?"
)
_VALID_ESCAPES = set("\n\\'\"abfnrtvxNuU01234567")
_OCTAL = re.compile(r"[0-7]{1,3}")


@dataclass(frozen=True, slots=True)
class Source:
    """The user's text, the rewritten text that was parsed, and how to map one onto the other."""

    original: str
    rewritten: str
    positions: tuple[int, ...]  # original index of every rewritten character, plus a sentinel
    refs: Mapping[int, str]  # rewritten index -> the $-name the rewriting put there
    line_starts: tuple[int, ...]

    def index(self, lineno: int | None, col_offset: int | None) -> int:
        """Rewritten character index of an AST position (AST columns count UTF-8 bytes)."""
        if lineno is None or col_offset is None:
            return 0
        line = min(max(lineno - 1, 0), len(self.line_starts) - 1)
        start = self.line_starts[line]
        text = self.rewritten[start:]
        chars = len(text.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))
        return min(start + chars, len(self.rewritten))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """The original ``[start, end)`` of a node."""
        start = self.index(getattr(node, "lineno", None), getattr(node, "col_offset", None))
        end = self.index(getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))
        begin = self.positions[start]
        finish = self.positions[end - 1] + 1 if end > start else begin
        return begin, max(finish, begin)

    def fragment(self, node: ast.AST) -> str:
        begin, end = self.span(node)
        return self.original[begin:end] or self.original

    def error(self, node: ast.AST, reason: str, suggestion: str | None = None) -> ExpressionError:
        begin, _ = self.span(node)
        return ExpressionError(
            f"{reason} (at column {begin + 1}: {self.fragment(node)})", suggestion=suggestion
        )


def _scan_error(source: str, index: int, reason: str) -> ExpressionError:
    return ExpressionError(f"{reason} (at column {index + 1} of {source!r})")


def rewrite(source: str) -> Source:
    """Rewrite ``$name`` outside string literals; refuse what must never reach the parser."""
    out: list[str] = []
    pos: list[int] = []
    refs: dict[int, str] = {}

    def emit(text: str, origin: int, *, same: bool = False) -> None:
        out.append(text)
        if same:
            pos.extend([origin] * len(text))
        else:
            pos.extend(range(origin, origin + len(text)))

    n = len(source)
    i = n - len(source.lstrip())  # eval mode refuses leading whitespace ("unexpected indent")
    raw_prefix = False
    while i < n:
        c = source[i]
        if c in "'\"":
            i = _string(source, i, raw_prefix, emit)
            raw_prefix = False
            continue
        raw_prefix = False
        if c == "$":
            match = _NAME.match(source, i + 1)
            if match is None:
                raise _scan_error(source, i, "'$' must be followed by a name, as in $input")
            if out and (out[-1][-1:].isalnum() or out[-1][-1:] == "_"):
                raise _scan_error(source, i, "'$' cannot follow a name or number directly")
            refs[len(pos)] = match.group()
            emit(REF_PREFIX, i, same=True)
            emit(match.group(), i + 1)
            i = match.end()
            continue
        if "0" <= c <= "9" or (c == "." and "0" <= source[i + 1 : i + 2] <= "9"):
            match = _NUMBER.match(source, i)
            assert match is not None  # a digit always matches
            end = match.end()
            if end < n and (source[end].isalnum() or source[end] == "_"):
                raise _scan_error(source, end, "a number must not be followed directly by a name")
            emit(source[i:end], i)
            i = end
            continue
        if c.isalpha() or c == "_":
            match = _NAME.match(source, i)
            if match is None or not c.isascii():
                raise _scan_error(source, i, f"unexpected character {c!r}")
            word = match.group()
            end = match.end()
            if end < n and source[end] in "'\"":
                if word.lower() in {"f", "rf", "fr"}:
                    raise _scan_error(source, i, "f-strings are not allowed")
                if "b" in word.lower():
                    raise _scan_error(source, i, "bytes literals are not allowed")
                raw_prefix = word.lower() == "r"
            if word.startswith("_"):
                hint = f" (to read such a key, write [{word!r}])" if out[-1:] == ["."] else ""
                reason = f"names starting with '_' are not allowed: {word!r}{hint}"
                raise _scan_error(source, i, reason)
            emit(word, i)
            i = end
            continue
        if c in "\r\n":
            emit(" ", i)  # a line break outside strings is plain whitespace
            i += 1
            continue
        if c == "#":
            raise _scan_error(source, i, "comments are not allowed")
        if not c.isascii() or (not c.isprintable() and c not in " \t\n\r\f"):
            raise _scan_error(source, i, f"unexpected character {c!r}")
        emit(c, i)
        i += 1
    rewritten = "".join(out)
    pos.append(n)
    starts = [0] + [k + 1 for k, ch in enumerate(rewritten) if ch == "\n"]
    return Source(source, rewritten, tuple(pos), refs, tuple(starts))


def _string(source: str, i: int, raw: bool, emit: Any) -> int:
    """Copy one string literal starting at ``i``; return the index after it.

    Unknown escapes such as ``\\d`` keep their backslash in Python; they are written doubled so
    that the parser gives the same string without a deprecation warning.
    """
    quote = source[i]
    delim = quote * 3 if source.startswith(quote * 3, i) else quote
    emit(delim, i)
    j = i + len(delim)
    n = len(source)
    while j < n:
        if source.startswith(delim, j):
            emit(delim, j)
            return j + len(delim)
        c = source[j]
        if c == "\\" and j + 1 < n:
            nxt = source[j + 1]
            if raw or nxt in _VALID_ESCAPES:
                if not raw and nxt in "01234567":
                    octal = _OCTAL.match(source, j + 1)
                    if octal is not None and int(octal.group(), 8) > 0o377:
                        raise _scan_error(source, j, "octal escape out of range")
                emit(source[j : j + 2], j)
                j += 2
            else:
                emit("\\", j, same=True)
                emit("\\", j)
                j += 1
            continue
        if c == "\n" and len(delim) == 1:
            return j  # unterminated: the parser reports it
        emit(c, j)
        j += 1
    return j


def parse_source(source: str) -> tuple[ast.Expression, Source]:
    """Parse expression text into an AST (not yet checked against the whitelist)."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise resource_error(f"expression longer than {MAX_SOURCE_LENGTH} characters")
    if not source.strip():
        raise ExpressionError("empty expression")
    src = rewrite(source)
    try:
        tree = ast.parse(src.rewritten, mode="eval")
    except SyntaxError as exc:
        line = min(max((exc.lineno or 1) - 1, 0), len(src.line_starts) - 1)
        index = src.line_starts[line] + max((exc.offset or 1) - 1, 0)
        col = src.positions[min(index, len(src.positions) - 1)]
        raise ExpressionError(
            f"invalid expression syntax: {exc.msg} (at column {col + 1} of {source!r})"
        ) from None
    except (RecursionError, MemoryError):
        raise resource_error("expression nested too deeply") from None
    except ValueError as exc:
        raise ExpressionError(f"invalid expression: {exc}") from None
    _check_size(tree)
    return tree, src


def _check_size(tree: ast.Expression) -> None:
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise resource_error(f"expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise resource_error(f"expression nested deeper than {MAX_DEPTH} levels")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                stack.append((child, depth + 1))
            else:
                stack.extend((c, depth + 1) for c in ast.iter_child_nodes(child))


# --- templates -----------------------------------------------------------------------------------


def split_template(text: str) -> list[tuple[bool, str]]:
    """Split template text into ``(is_expression, text)`` parts; ``}}`` alone is literal text."""
    parts: list[tuple[bool, str]] = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            break
        if start > i:
            parts.append((False, text[i:start]))
        end = _expression_end(text, start + 2)
        if end is None:
            raise ExpressionError(f"unclosed '{{{{' at column {start + 1} of {text!r}")
        parts.append((True, text[start + 2 : end]))
        i = end + 2
    if i < len(text):
        parts.append((False, text[i:]))
    return parts


def _expression_end(text: str, i: int) -> int | None:
    """Index of the ``}}`` ending the expression that starts at ``i`` (minds brackets, strings)."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            delim = c * 3 if text.startswith(c * 3, i) else c
            i += len(delim)
            while i < n and not text.startswith(delim, i):
                i += 2 if text[i] == "\\" else 1
            i += len(delim)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                if text.startswith("}}", i):
                    return i
            else:
                depth -= 1
        i += 1
    return None


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def iter_templates(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(json_pointer, string)`` for every string in ``value`` that contains ``{{``."""
    if isinstance(value, str):
        if "{{" in value:
            yield pointer, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_templates(item, f"{pointer}/{escape_pointer(str(key))}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_templates(item, f"{pointer}/{index}")

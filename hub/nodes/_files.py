"""The ``file.*`` nodes: read, write, list and delete files inside one root directory.

The root is ``HUB_FILES_ROOT`` (default ``HUB_HOME/files``) on the machine of the node actor
that runs the step. A path is always relative to it; one that resolves outside it (``..``, an
absolute path, a symbolic link leading out) is refused. Writes are atomic: a temporary file in
the same directory, then a rename. Formats: ``text``, ``json``, ``csv`` (rows as objects) and
``bytes`` (base64 text). docs/dsl.md, "File nodes".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import fnmatch
import io
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import PoolConfig, node_type
from hub.settings import hub_home

ROOT_ENV = "HUB_FILES_ROOT"
Format = Literal["text", "json", "csv", "bytes"]
MAX_READ_BYTES = 100 * 2**20  # what one read may return at most (the parameter's ceiling)
MAX_LISTED = 10_000


def files_root() -> Path:
    """The directory every file node works in, made on first use."""
    raw = os.environ.get(ROOT_ENV)
    root = Path(raw).expanduser() if raw else hub_home() / "files"
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _refuse(path: str, why: str) -> StepFailed:
    return StepFailed(f"path {path!r} {why}", category=ErrorCategory.VALIDATION)


def resolve_inside(root: Path, path: str) -> Path:
    """``path`` (relative, '/'-separated) as a real path inside ``root``; StepFailed when it is
    absolute or resolves outside (through '..' or a symbolic link)."""
    if not path or "\x00" in path:
        raise _refuse(path, "is empty or holds a NUL character")
    if PurePosixPath(path).is_absolute() or Path(path).is_absolute() or path.startswith("~"):
        raise _refuse(path, f"is absolute: give a path relative to the files root ({ROOT_ENV})")
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise _refuse(path, f"resolves outside the files root ({ROOT_ENV})")
    return target


def _relative(root: Path, target: Path) -> str:
    return target.relative_to(root).as_posix() or "."


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096)


# --- read -------------------------------------------------------------------------------------


class ReadParams(_Params):
    format: Format = "text"
    encoding: str = "utf-8"
    max_bytes: int = Field(default=10 * 2**20, ge=1, le=MAX_READ_BYTES)


def decode(data: bytes, fmt: Format, encoding: str, path: str) -> Any:
    if fmt == "bytes":
        return base64.b64encode(data).decode("ascii")
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise StepFailed(
            f"{path!r} is not {encoding} text ({exc}); read it with format 'bytes'",
            category=ErrorCategory.VALIDATION,
        ) from None
    if fmt == "text":
        return text
    if fmt == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StepFailed(
                f"{path!r} is not JSON: {exc}", category=ErrorCategory.VALIDATION
            ) from None
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _read(params: ReadParams) -> dict[str, Any]:
    root = files_root()
    target = resolve_inside(root, params.path)
    if not target.is_file():
        raise StepFailed(
            f"{params.path!r} is not a file in the files root"
            + (" (it is a directory)" if target.is_dir() else ""),
            category=ErrorCategory.NODE_ERROR,
        )
    size = target.stat().st_size
    if size > params.max_bytes:
        raise StepFailed(
            f"{params.path!r} has {size} bytes, more than max_bytes={params.max_bytes}",
            category=ErrorCategory.RESOURCE_LIMIT,
        )
    content = decode(target.read_bytes(), params.format, params.encoding, params.path)
    return {"path": _relative(root, target), "size": size, "content": content}


@node_type("file.read", parameters=ReadParams, pool=PoolConfig(min_size=1, max_size=2))
async def run_read(params: ReadParams, ctx: NodeContext) -> Any:
    """Read a file of the files root as text, JSON, CSV rows or base64 bytes."""
    return await asyncio.to_thread(_read, params)


# --- write ------------------------------------------------------------------------------------


class WriteParams(_Params):
    content: Any
    format: Format = "text"
    encoding: str = "utf-8"
    mode: Literal["overwrite", "append", "create"] = "overwrite"
    make_dirs: bool = True


def encode(content: Any, fmt: Format, encoding: str) -> bytes:
    if fmt == "bytes":
        if not isinstance(content, str):
            raise StepFailed("bytes content must be base64 text", category=ErrorCategory.VALIDATION)
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StepFailed(
                f"bytes content is not base64: {exc}", category=ErrorCategory.VALIDATION
            ) from None
    if fmt == "json":
        text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        text = _csv_text(content)
    elif isinstance(content, str):
        text = content
    else:
        raise StepFailed(
            f"text content must be a string (got {type(content).__name__}); use format 'json'",
            category=ErrorCategory.VALIDATION,
        )
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError) as exc:
        raise StepFailed(
            f"content cannot be written as {encoding}: {exc}", category=ErrorCategory.VALIDATION
        ) from None


def _csv_text(rows: Any) -> str:
    """Rows (objects) as CSV: the header is every key, in the order first seen."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise StepFailed(
            "csv content must be a list of objects (one a row)", category=ErrorCategory.VALIDATION
        )
    header: dict[str, None] = {}
    for row in rows:
        header.update(dict.fromkeys(str(k) for k in row))
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({str(k): _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


def _write(params: WriteParams) -> dict[str, Any]:
    root = files_root()
    target = resolve_inside(root, params.path)
    if target == root or target.is_dir():
        raise StepFailed(f"{params.path!r} is a directory", category=ErrorCategory.NODE_ERROR)
    data = encode(params.content, params.format, params.encoding)
    if params.mode == "create" and target.exists():
        raise StepFailed(
            f"{params.path!r} exists already (mode 'create')", category=ErrorCategory.NODE_ERROR
        )
    if not target.parent.is_dir():
        if not params.make_dirs:
            raise StepFailed(
                f"the directory of {params.path!r} does not exist (make_dirs is false)",
                category=ErrorCategory.NODE_ERROR,
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        resolve_inside(root, params.path)  # a link made meanwhile must not lead out either
    if params.mode == "append" and target.exists():
        data = target.read_bytes() + data
    _atomic_write(target, data)
    return {"path": _relative(root, target), "size": len(data), "mode": params.mode}


def _in_progress(name: str) -> bool:
    """A temporary file of a write not renamed yet (see _atomic_write)."""
    return name.startswith(".") and name.endswith(".hub-tmp")


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".hub-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@node_type("file.write", parameters=WriteParams, pool=PoolConfig(min_size=1, max_size=2))
async def run_write(params: WriteParams, ctx: NodeContext) -> Any:
    """Write a file of the files root atomically (temporary file, then rename)."""
    return await asyncio.to_thread(_write, params)


# --- list -------------------------------------------------------------------------------------


class ListParams(_Params):
    path: str = Field(default=".", min_length=1, max_length=4096)
    pattern: str = "*"
    recursive: bool = False
    max_entries: int = Field(default=1000, ge=1, le=MAX_LISTED)


def _list(params: ListParams) -> dict[str, Any]:
    root = files_root()
    base = resolve_inside(root, params.path)
    if not base.is_dir():
        raise StepFailed(f"{params.path!r} is not a directory", category=ErrorCategory.NODE_ERROR)
    found = base.rglob("*") if params.recursive else base.iterdir()
    entries: list[dict[str, Any]] = []
    truncated = False
    for entry in sorted(found):
        if not fnmatch.fnmatch(entry.name, params.pattern) or _in_progress(entry.name):
            continue
        if len(entries) == params.max_entries:
            truncated = True
            break
        try:
            real = resolve_inside(root, _relative(root, entry.absolute()))
            stat = real.stat()
        except (StepFailed, OSError):
            continue  # a link leading out of the root, or gone meanwhile: not listed
        entries.append(
            {
                "path": entry.relative_to(root).as_posix(),
                "name": entry.name,
                "is_dir": real.is_dir(),
                "size": 0 if real.is_dir() else stat.st_size,
                "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            }
        )
    return {"path": _relative(root, base), "entries": entries, "truncated": truncated}


@node_type("file.list", parameters=ListParams, pool=PoolConfig(min_size=1, max_size=2))
async def run_list(params: ListParams, ctx: NodeContext) -> Any:
    """List a directory of the files root (names matching ``pattern``)."""
    return await asyncio.to_thread(_list, params)


# --- delete -----------------------------------------------------------------------------------


class DeleteParams(_Params):
    missing_ok: bool = False


def _delete(params: DeleteParams) -> dict[str, Any]:
    root = files_root()
    target = resolve_inside(root, params.path)
    if target == root:
        raise _refuse(params.path, "is the files root itself")
    if not target.exists():
        if params.missing_ok:
            return {"path": _relative(root, target), "deleted": False}
        raise StepFailed(f"{params.path!r} does not exist", category=ErrorCategory.NODE_ERROR)
    try:
        target.rmdir() if target.is_dir() else target.unlink()
    except OSError as exc:
        raise StepFailed(
            f"{params.path!r} cannot be deleted: {exc.strerror or exc}"
            + (" (only empty directories are)" if target.is_dir() else ""),
            category=ErrorCategory.NODE_ERROR,
        ) from None
    return {"path": _relative(root, target), "deleted": True}


@node_type("file.delete", parameters=DeleteParams, pool=PoolConfig(min_size=1, max_size=2))
async def run_delete(params: DeleteParams, ctx: NodeContext) -> Any:
    """Delete a file (or an empty directory) of the files root."""
    return await asyncio.to_thread(_delete, params)

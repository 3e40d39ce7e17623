"""Importing this module registers every built-in node type. The desktop family is not among
them: it registers through the ``runtime_hub.nodes`` entry point (pyproject.toml), as plugins
do (docs/nodes.md)."""

from hub.nodes import (
    _code,
    _control,
    _datetime,
    _email,
    _files,
    _foreach,
    _http,
    _llm,
    _shell,
    _sql,
    _webhook,
    _workflow,
)

__all__ = [
    "_code",
    "_control",
    "_datetime",
    "_email",
    "_files",
    "_foreach",
    "_http",
    "_llm",
    "_shell",
    "_sql",
    "_webhook",
    "_workflow",
]

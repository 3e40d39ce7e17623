"""Importing this module registers every built-in node type."""

from hub.desktop import nodes as desktop_nodes
from hub.nodes import _code, _control, _datetime, _email, _files, _http, _shell, _sql, _webhook

__all__ = [
    "_code",
    "_control",
    "_datetime",
    "_email",
    "_files",
    "_http",
    "_shell",
    "_sql",
    "_webhook",
    "desktop_nodes",
]

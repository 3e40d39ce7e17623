"""Importing this module registers every built-in node type."""

from hub.desktop import nodes as desktop_nodes
from hub.nodes import _code, _control, _files, _http, _shell, _sql

__all__ = ["_code", "_control", "_files", "_http", "_shell", "_sql", "desktop_nodes"]

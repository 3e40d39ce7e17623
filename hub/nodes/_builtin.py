"""Importing this module registers every built-in node type."""

from hub.desktop import nodes as desktop_nodes
from hub.nodes import _code, _control, _http, _shell

__all__ = ["_code", "_control", "_http", "_shell", "desktop_nodes"]

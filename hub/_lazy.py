"""Packages whose names are imported on first use (PEP 562): ``hub`` and ``actors``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attribute(package: str, public: dict[str, str], name: str) -> Any:
    """``package``'s attribute ``name`` on first use: a public name from its module, else a
    submodule (``hub.runtime`` after a bare ``import hub``, as when the package imported it)."""
    module = public.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.{name}":
            raise  # the submodule exists and failed to import something
    raise AttributeError(f"module {package!r} has no attribute {name!r}")


def lazy_module(
    namespace: dict[str, Any], public: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``: ``__getattr__, __dir__ =
    lazy_module(globals(), {name: module})``. A name, once imported, is kept in the package."""
    package = namespace["__name__"]

    def getattr_(name: str) -> Any:
        value = lazy_attribute(package, public, name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *public})

    return getattr_, dir_

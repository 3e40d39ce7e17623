"""``hub`` and ``actors`` import their public names on first use: a worker process hosting one
actor loads what that actor needs, not the client, the store and every other actor."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import actors
import hub


def loaded_after(statement: str, modules: list[str]) -> dict[str, bool]:
    """Which of ``modules`` a fresh interpreter has loaded after ``statement``."""
    probe = f"import sys\n{statement}\nprint([m in sys.modules for m in {modules!r}])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return dict(zip(modules, ast.literal_eval(out.stdout.strip()), strict=True))


def test_an_execution_actors_process_loads_no_client_no_store_no_other_actor() -> None:
    unwanted = ["hub.client", "hub.runtime", "hub.store", "sqlalchemy", "actors.supervisor"]
    unwanted += ["actors.recorder", "actors.desktop", "numpy"]
    assert loaded_after("import actors.execution", unwanted) == dict.fromkeys(unwanted, False)


def test_a_node_actors_process_loads_no_compiler_either() -> None:
    unwanted = ["hub.client", "hub.store", "hub.compiler", "actors.execution", "actors.supervisor"]
    assert loaded_after("import actors.node_pool", unwanted) == dict.fromkeys(unwanted, False)


def test_the_supervisors_process_loads_the_desktop_stack_only_to_make_the_desktop_actor() -> None:
    unwanted = ["actors.desktop", "hub.desktop.screen", "numpy"]
    assert loaded_after("import actors.supervisor", unwanted) == dict.fromkeys(unwanted, False)


def test_compiling_a_workflow_loads_no_database_library() -> None:
    """The CLI's precheck, the supervisor and every ExecutionActor compile workflows: the sql
    node's engine code (SQLAlchemy) loads on its first call, in its node actor."""
    compile_all = "from hub.nodes import default_registry; default_registry()"
    assert loaded_after(compile_all, ["sqlalchemy", "hub.nodes._sql_engine"]) == {
        "sqlalchemy": False,
        "hub.nodes._sql_engine": False,
    }


def test_the_store_uses_sqlalchemy_core_not_its_orm() -> None:
    assert loaded_after("import hub.store", ["sqlalchemy.orm"]) == {"sqlalchemy.orm": False}


@pytest.mark.parametrize("package", [hub, actors], ids=["hub", "actors"])
def test_every_public_name_resolves(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))  # type: ignore[attr-defined]


def test_submodules_resolve_as_attributes_and_unknown_names_say_so() -> None:
    assert loaded_after("import hub", ["hub.runtime"]) == {"hub.runtime": False}
    assert loaded_after("import hub; hub.runtime", ["hub.runtime"]) == {"hub.runtime": True}
    with pytest.raises(AttributeError, match="module 'hub' has no attribute 'nonexistent'"):
        hub.nonexistent  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match="module 'actors' has no attribute 'Nope'"):
        actors.Nope  # type: ignore[attr-defined]  # noqa: B018

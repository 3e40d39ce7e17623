"""The file.* nodes (hub/nodes/_files.py), run in this process as a node actor runs them: every
path stays inside the files root, writes are atomic, each format round-trips."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from hub.errors import StepFailed
from tests.conftest import run_node


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "files"
    monkeypatch.setenv("HUB_FILES_ROOT", str(root))
    return root


def test_each_format_round_trips(root: Path) -> None:
    rows = [{"id": "1", "name": "Ada"}, {"id": "2", "name": "Grace", "team": "navy"}]
    cases: list[tuple[str, Any]] = [
        ("text", "héllo\nworld"),
        ("json", {"a": [1, 2.5, None], "b": "ü"}),
        ("bytes", base64.b64encode(bytes(range(256))).decode()),
    ]
    for fmt, content in cases:
        written = run_node("file.write", path=f"out/{fmt}.dat", content=content, format=fmt)
        assert written["path"] == f"out/{fmt}.dat" and written["size"] > 0
        read = run_node("file.read", path=f"out/{fmt}.dat", format=fmt)
        assert read["content"] == content, fmt
    run_node("file.write", path="rows.csv", content=rows, format="csv")
    assert (root / "rows.csv").read_text() == "id,name,team\n1,Ada,\n2,Grace,navy\n"
    back = (run_node("file.read", path="rows.csv", format="csv"))["content"]
    assert back == [{"id": "1", "name": "Ada", "team": ""}, {**rows[1]}]


def test_append_and_create_modes(root: Path) -> None:
    run_node("file.write", path="log.txt", content="a\n")
    run_node("file.write", path="log.txt", content="b\n", mode="append")
    assert (root / "log.txt").read_text() == "a\nb\n"
    with pytest.raises(StepFailed, match="exists already"):
        run_node("file.write", path="log.txt", content="c", mode="create")
    with pytest.raises(StepFailed, match=r"does not exist \(make_dirs is false"):
        run_node("file.write", path="new/dir/x.txt", content="x", make_dirs=False)


@pytest.mark.parametrize(
    "path",
    ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "~/x", "a/\x00b", "escape/x.txt"],
)
def test_paths_that_lead_out_of_the_root_are_refused(root: Path, path: str) -> None:
    root.mkdir(parents=True)
    outside = root.parent / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)  # a link inside the root that leads out of it
    for node_type, extra in (
        ("file.read", {}),
        ("file.write", {"content": "x"}),
        ("file.delete", {}),
        ("file.list", {}),
    ):
        with pytest.raises(StepFailed) as caught:
            run_node(node_type, path=path, **extra)
        assert caught.value.category == "validation", (node_type, caught.value)
        assert "files root" in str(caught.value) or "NUL" in str(caught.value)
    assert not any(outside.iterdir()) and not (root.parent / "outside.txt").exists()


def test_writes_are_atomic_and_leave_no_temporary_file(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_node("file.write", path="data.json", content={"v": 1}, format="json")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk gone")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", broken_replace)
        with pytest.raises(StepFailed, match="disk gone"):
            run_node("file.write", path="data.json", content={"v": 2}, format="json")
    assert (run_node("file.read", path="data.json", format="json"))["content"] == {"v": 1}
    assert sorted(p.name for p in root.iterdir()) == ["data.json"]


def test_list_and_delete(root: Path) -> None:
    for name in ("a.csv", "b.csv", "c.txt", "sub/d.csv"):
        run_node("file.write", path=name, content="x")
    listed = run_node("file.list", pattern="*.csv")
    assert [e["path"] for e in listed["entries"]] == ["a.csv", "b.csv"]
    deep = run_node("file.list", pattern="*.csv", recursive=True)
    assert [e["path"] for e in deep["entries"]] == ["a.csv", "b.csv", "sub/d.csv"]
    assert (run_node("file.list", max_entries=2))["truncated"] is True
    assert (run_node("file.delete", path="a.csv"))["deleted"] is True
    assert (run_node("file.delete", path="a.csv", missing_ok=True))["deleted"] is False
    with pytest.raises(StepFailed, match="does not exist"):
        run_node("file.delete", path="a.csv")
    with pytest.raises(StepFailed, match="only empty directories"):
        run_node("file.delete", path="sub")
    with pytest.raises(StepFailed, match="files root itself"):
        run_node("file.delete", path=".")


def test_bad_content_gets_a_clear_validation_error(root: Path) -> None:
    with pytest.raises(StepFailed, match="text content must be a string"):
        run_node("file.write", path="x.txt", content={"not": "text"})
    with pytest.raises(StepFailed, match="list of objects"):
        run_node("file.write", path="x.csv", content="a,b", format="csv")
    with pytest.raises(StepFailed, match="not base64"):
        run_node("file.write", path="x.bin", content="%%%", format="bytes")
    run_node("file.write", path="bad.json", content="{nope")
    with pytest.raises(StepFailed, match="is not JSON"):
        run_node("file.read", path="bad.json", format="json")
    run_node("file.write", path="big.txt", content="x" * 100)
    with pytest.raises(StepFailed, match="more than max_bytes=10"):
        run_node("file.read", path="big.txt", max_bytes=10)

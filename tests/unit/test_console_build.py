"""The committed console build (serve/console/static) is the build of the committed sources
(serve/console/web): the build records a digest of its sources in build.json
(web/vite.config.ts), recomputed here the same way. Rebuild with `npm ci && npm run build` in
serve/console/web when this fails."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "serve" / "console" / "web"
STATIC = WEB.parent / "static"


def _sources() -> list[str]:
    config = (WEB / "vite.config.ts").read_text()
    listed = re.search(r"const SOURCES = \[(.*?)\];", config, re.S)
    assert listed, "vite.config.ts no longer lists SOURCES"
    return re.findall(r'"([^"]+)"', listed.group(1))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return [f for child in sorted(path.iterdir(), key=lambda p: p.name) for f in _files(child)]
    return [path]


def source_digest() -> str:
    digest = hashlib.sha256()
    for source in _sources():
        for file in _files(WEB / source):
            digest.update(file.relative_to(WEB).as_posix().encode() + b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def test_the_committed_build_is_the_build_of_the_committed_sources() -> None:
    stamp = json.loads((STATIC / "build.json").read_text())
    assert stamp["sources_sha256"] == source_digest(), (
        "serve/console/static is stale: run `npm ci && npm run build` in serve/console/web"
    )


def test_the_built_page_loads_only_its_own_files() -> None:
    page = (STATIC / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs, "the built page references no script"
    for ref in refs:
        if ref.startswith("data:"):
            continue
        assert ref.startswith("/ui/assets/"), f"{ref} is not one of the console's own files"
        assert (STATIC / ref.removeprefix("/ui/")).is_file(), f"{ref} is missing from the build"


def test_the_settings_form_covers_every_runtime_setting() -> None:
    """The console's settings form (screens/settings-fields.ts) lists its fields by hand: a
    setting added to hub.settings must appear there too, with its restart mark."""
    from hub.settings import RESTART_SETTINGS, RuntimeSettings

    fields = (WEB / "src" / "screens" / "settings-fields.ts").read_text()
    shown = {path.split("/")[1] for path in re.findall(r'path: "(/[^"]+)"', fields)}
    assert set(RuntimeSettings.model_fields) <= shown, set(RuntimeSettings.model_fields) - shown
    restart = re.search(r"export const RESTART = new Set\(\[(.*?)\]\)", fields, re.S)
    assert restart, "settings-fields.ts no longer lists RESTART"
    assert set(re.findall(r'"([^"]+)"', restart.group(1))) == set(RESTART_SETTINGS)

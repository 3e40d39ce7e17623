"""OcrActors: OCR engines in their own processes, for GPU workers (hub.desktop.placement)."""

from __future__ import annotations

import asyncio
from typing import Any

import ray

from actors._process import tune_process


# Restarted where it can run (another GPU node) when its node is lost; a read in flight is
# repeated there (reading is free of side effects).
@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class OcrActor:
    def __init__(self, backend: str) -> None:
        tune_process()
        from hub.desktop.ocr import load_backend

        self.engine = load_backend(backend, gpu=bool(ray.get_gpu_ids()))

    async def read(
        self, pixels: Any, allowlist: str | None = None, single_line: bool = False
    ) -> Any:
        """Read an image; ``pixels`` arrives through the object store (zero-copy numpy)."""
        return await asyncio.to_thread(
            lambda: self.engine.read(pixels, allowlist=allowlist, single_line=single_line)
        )

    async def ping(self) -> str:
        return str(self.engine.name)

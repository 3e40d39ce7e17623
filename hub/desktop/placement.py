"""Where OCR runs. A pure decision, so it is unit-tested without a cluster.

CPU backends run inside the DesktopActor: the frame is already there and a hop to another
process costs more than rapidocr's read. A GPU changes that: easyocr on a GPU worker reads in a
fraction of its CPU time, so when the cluster has GPUs the read goes to an OcrActor that asks
for a slice of one, and the frame travels through Ray's object store (never the SQL store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.errors import HubError

Placement = Literal["auto", "local", "pool"]
GPU_SHARE = 0.25  # four OCR actors can share one GPU


@dataclass(frozen=True)
class OcrPlan:
    backend: str  # a concrete backend: rapidocr, tesseract or easyocr
    where: Literal["local", "pool"]
    num_gpus: float


def plan_ocr(backend: str, placement: Placement, cluster_gpus: float) -> OcrPlan:
    """Pick the concrete backend and where it runs."""
    if backend not in ("auto", "rapidocr", "tesseract", "easyocr"):
        raise HubError(
            f"unknown OCR backend {backend!r}; choose auto, rapidocr, tesseract or easyocr"
        )
    if placement not in ("auto", "local", "pool"):
        raise HubError(f"unknown OCR placement {placement!r}; choose auto, local or pool")
    gpus = cluster_gpus > 0
    concrete = ("easyocr" if gpus else "rapidocr") if backend == "auto" else backend
    on_gpu = gpus and concrete == "easyocr"
    if placement == "local" or (placement == "auto" and not on_gpu):
        return OcrPlan(concrete, "local", 0.0)
    return OcrPlan(concrete, "pool", GPU_SHARE if on_gpu else 0.0)

"""Two example node types: ``example.slugify`` runs inline (in the ExecutionActor: pure and
quick), ``example.word_count`` on a pool of node actors (where I/O or heavy work belongs)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub import NodeContext, node_type
from hub.errors import ErrorCategory, StepFailed
from hub.nodes import PoolConfig


class SlugifyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is a compile error

    text: str
    max_length: int = Field(default=64, ge=1, le=256)


@node_type("example.slugify", parameters=SlugifyParams, inline=True)
async def slugify(params: SlugifyParams, ctx: NodeContext) -> dict[str, Any]:
    """Turn text into a URL slug ("Héllo, World!" -> "hello-world")."""
    ascii_text = unicodedata.normalize("NFKD", params.text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[: params.max_length]
    if not slug:
        raise StepFailed(
            f"{params.text!r} has no letters or digits to make a slug of",
            category=ErrorCategory.VALIDATION,
        )
    return {"slug": slug}


class WordCountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    top: int = Field(default=3, ge=1, le=100)


@node_type(
    "example.word_count",
    parameters=WordCountParams,
    pool=PoolConfig(min_size=1, max_size=2, concurrency=16),
    default_timeout_s=10,
)
async def word_count(params: WordCountParams, ctx: NodeContext) -> dict[str, Any]:
    """Count the words of a text; the most frequent ones first."""
    words = re.findall(r"[\w']+", params.text.lower())
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    ctx.log("info", f"counted {len(words)} words", distinct=len(counts))
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: params.top]
    return {"words": len(words), "top": [{"word": w, "count": n} for w, n in top]}

"""The runner's caches: one per stage configuration, under ``<home>/caches/<corpus>/``.

A pipeline's first stage is cached as a retriever (results per query); a later stage as a pointwise scorer
(scores per query text and docno), keyed also on the stages between the first and itself (they decide the
text it reads). Re-ranker scores are thus shared across first stages and depths, and comparing five
re-rankers over one BM25 runs BM25 once. Stages that cannot be identified (no ``cache_key()`` and no
configuration in their ``repr``, e.g. the text loader) run uncached.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyterrier as pt

from transformers_ir import _paths
from transformers_ir._cutoff import Cutoff
from transformers_ir.caching import KeyedCache, RetrieverCache, ScorerCache, cache_key, key_hash
from transformers_ir.experiments._pipeline_file import Stage


def default_root() -> Path:
    return _paths.home() / "caches"


def stage_label(stage: Stage) -> str:
    return stage.component + (f"%{stage.cutoff}" if stage.cutoff is not None else "")


def stage_id(stage: Stage) -> dict:
    return {"component": stage.component, "params": stage.params, "cutoff": stage.cutoff}


class StageCaches:
    """Wraps the stages of a system in caches under ``root`` (one folder per configuration).

    Args:
        root: the folder holding the caches.
        corpus: the id of the corpus the stages read (part of every key).
    """

    def __init__(self, root: str | Path, corpus: str):
        self.root = Path(root)
        self.corpus = corpus

    def wrap(self, stages: list[Stage], transformers: list[pt.Transformer], index: int,
             inp: pd.DataFrame) -> tuple[pt.Transformer, KeyedCache | None]:
        """What to run for stage ``index`` (``transformers`` are the stages without their cutoffs) on ``inp``,
        and its cache (None when uncached)."""
        stage = stages[index]
        cut = with_cutoff(transformers[index], stage.cutoff)
        retrieval = "docno" not in inp.columns
        base = cut if retrieval else transformers[index]  # a retriever's depth changes its results
        key = cache_key(base)
        if key is None:
            return cut, None
        config = {"stage": stage_id(stage) if retrieval else {**stage_id(stage), "cutoff": None},
                  "corpus": self.corpus, "transformer": key}
        if not retrieval:  # the stages that made the frame (not which documents: that is the first stage's part)
            config["inputs"] = [stage_id(s) for s in stages[1:index]]
        kind, cls = ("results", RetrieverCache) if retrieval else ("scores", ScorerCache)
        path = self.root / _paths.slug(self.corpus) / f"{kind}-{_paths.slug(stage.component)}-{key_hash(config)[:16]}"
        cache = cls(path, base, config=config)
        return (cache if retrieval else with_cutoff(cache, stage.cutoff)), cache


def with_cutoff(transformer: pt.Transformer, cutoff: int | None) -> pt.Transformer:
    """The stage followed by its ``"%" = K`` cut, applied with the library's tie-break (:class:`Cutoff`)."""
    return transformer if cutoff is None else transformer >> Cutoff(cutoff)

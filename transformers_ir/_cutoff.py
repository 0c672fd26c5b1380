"""``"%" = K`` in pipeline files and training configs: each query's top K by the library's one tie-break."""
from __future__ import annotations

import pandas as pd
import pyterrier as pt

from transformers_ir._ranking import check_cutoff, top_k
from transformers_ir.errors import RankingError


class Cutoff(pt.Transformer):
    """Keep each query's top ``k`` by the library's tie-break (score descending, then docno: :func:`top_k`): what
    a pipeline file's ``"%" = K`` does. PyTerrier's ``% K`` keeps ``rank < K`` of whatever ranks come in, so among
    documents tied at the cut it keeps those the stage before happened to rank first.

    Args:
        k: results kept per query (a positive whole number).
    """

    def __init__(self, k: int):
        self.k = check_cutoff(k)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """Each query's top ``k`` rows, ranked.

        Args:
            inp: a result frame (``qid, docno, score``).

        Returns:
            The kept rows, with ``rank`` recomputed.

        Raises:
            RankingError: the frame has no ``score`` or ``docno`` column.
        """
        if "score" not in inp.columns or "docno" not in inp.columns:
            raise RankingError(f"a cutoff (% {self.k}) needs ranked results (qid, docno, score), got columns "
                               f"{list(inp.columns)}: put it after a retriever or re-ranker")
        return top_k(inp, self.k)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.k == self.k

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.k))

    def __repr__(self) -> str:
        return f"Cutoff({self.k})"

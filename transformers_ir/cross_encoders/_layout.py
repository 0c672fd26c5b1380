"""How a (query, document) pair becomes one model input: the query kept whole (up to its own maximum), the
document truncated to what is left, special tokens and template words in between.

Queries and documents are tokenized separately, in batch, by the fast (Rust) tokenizer, without special tokens;
a :class:`PairLayout` then joins them as ``prefix + query + middle + document + suffix``. Joining separately
tokenized parts gives the same ids as tokenizing the pair at once, because every tokenizer we load splits on the
boundaries between the parts (WordPiece and SentencePiece-Metaspace pre-tokenize on whitespace).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PairLayout:
    """Constant token ids around the query and the document, with their token type ids.

    Attributes:
        prefix, middle, suffix: the ids before the query, between query and document, after the document.
        prefix_types, middle_types, suffix_types: their token type ids.
        query_type, doc_type: the token type of the query's and the document's tokens.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_types: tuple[int, ...] = ()
    middle_types: tuple[int, ...] = ()
    suffix_types: tuple[int, ...] = ()
    query_type: int = 0
    doc_type: int = 1

    @property
    def num_constant(self) -> int:
        """Tokens every input has besides the query and the document."""
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def from_tokenizer(cls, tokenizer) -> PairLayout:
        """The tokenizer's own pair template (``[CLS] q [SEP] d [SEP]``, ``<s> q </s></s> d </s>``, ...), read
        from how it encodes one pair."""
        try:
            enc = tokenizer(["query"], ["document"], return_token_type_ids=True)
            seq = enc.sequence_ids(0)
        except (ValueError, AttributeError, NotImplementedError) as e:
            raise TypeError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: load it with "
                "AutoTokenizer.from_pretrained(..., use_fast=True)"
            ) from e
        ids = enc["input_ids"][0]
        types = enc["token_type_ids"][0] if "token_type_ids" in enc else [0] * len(ids)
        q = [i for i, s in enumerate(seq) if s == 0]
        d = [i for i, s in enumerate(seq) if s == 1]
        parts = (slice(0, q[0]), slice(q[-1] + 1, d[0]), slice(d[-1] + 1, len(ids)))
        return cls(*(tuple(ids[p]) for p in parts), *(tuple(types[p]) for p in parts),
                   query_type=types[q[0]], doc_type=types[d[0]])

    @classmethod
    def from_template(cls, tokenizer, prefix: str, middle: str, suffix: str) -> PairLayout:
        """A text template ``prefix query middle document suffix`` followed by the tokenizer's end token
        (``"Query:", "Document:", "Relevant:"`` gives monoT5's ``Query: q Document: d Relevant:</s>``)."""
        def ids(text: str) -> tuple[int, ...]:
            return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()

        end = (tokenizer.eos_token_id,) if tokenizer.eos_token_id is not None else ()
        return cls(ids(prefix), ids(middle), ids(suffix) + end, query_type=0, doc_type=0)


def encode_pairs(tokenizer, layout: PairLayout, queries: Sequence[str], docs: Sequence[str], *,
                 query_max_length: int, doc_max_length: int | None, max_length: int,
                 with_types: bool) -> tuple[list[list[int]], list[list[int]] | None]:
    """Token ids (and token type ids when ``with_types``) of each pair, unpadded.

    Each distinct query is tokenized once and cut at ``query_max_length`` tokens; the document gets at most
    ``doc_max_length`` tokens and never more than ``max_length`` minus the query and the constant tokens.
    """
    room = max_length - layout.num_constant
    doc_cap = room if doc_max_length is None else min(doc_max_length, room)
    unique = list(dict.fromkeys(queries))
    q_tok = dict(zip(unique, _tokenize(tokenizer, unique, query_max_length)))
    d_tok = _tokenize(tokenizer, docs, doc_cap)
    pre, mid, suf = list(layout.prefix), list(layout.middle), list(layout.suffix)
    ids, types = [], [] if with_types else None
    for query, doc in zip(queries, d_tok):
        q = q_tok[query]
        d = doc[: room - len(q)]
        ids.append(pre + q + mid + d + suf)
        if with_types:
            types.append(list(layout.prefix_types) + [layout.query_type] * len(q) + list(layout.middle_types)
                         + [layout.doc_type] * len(d) + list(layout.suffix_types))
    return ids, types


def _tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max(max_length, 1),
                     return_attention_mask=False, return_token_type_ids=False)["input_ids"]


def collate(ids: Sequence[Sequence[int]], types: Sequence[Sequence[int]] | None, pad_id: int,
            order: Sequence[int] | None = None) -> dict[str, torch.Tensor]:
    """Pad the rows ``order`` (all rows when None) to the longest of them: ``input_ids``, ``attention_mask``
    and, when ``types`` is given, ``token_type_ids``."""
    rows = range(len(ids)) if order is None else order
    width = max((len(ids[i]) for i in rows), default=0)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    token_types = np.zeros((len(rows), width), dtype=np.int64) if types is not None else None
    for r, i in enumerate(rows):
        n = len(ids[i])
        input_ids[r, :n] = ids[i]
        mask[r, :n] = 1
        if token_types is not None:
            token_types[r, :n] = types[i]
    out = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
    if token_types is not None:
        out["token_type_ids"] = torch.from_numpy(token_types)
    return out

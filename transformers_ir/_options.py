"""The string options of the library, each named once, importable without torch or PyTerrier.

Families use them in their signatures; pipeline-file components and training configs are checked against the
same ``Literal`` types (:func:`transformers_ir.registry.fits`), so a name accepted in Python is accepted in a
file and the error lists the same choices. Each ``Literal`` has its tuple of values beside it.
"""
from __future__ import annotations

import typing
from typing import Literal

#: Numeric precision of a model at inference (see :mod:`transformers_ir._device`; ``auto``: by the hardware).
Precision = Literal["auto", "fp32", "bf16", "fp16", "int8"]
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)

#: What a re-ranker's scores become: probabilities, or each query's scores mapped to [0, 1].
Normalise = Literal["sigmoid", "minmax"]
NORMALISE: tuple[str, ...] = typing.get_args(Normalise)

#: SPLADE's pooling over tokens: max (SPLADE v2/++) or sum (v1).
Pooling = Literal["max", "sum"]
POOLINGS: tuple[str, ...] = typing.get_args(Pooling)

#: A bi-encoder's pooling over token states: their mean (sentence-transformers' default), the first ([CLS])
#: token's, or the last real token's (decoder-style embedders).
DensePooling = Literal["mean", "cls", "last"]
DENSE_POOLINGS: tuple[str, ...] = typing.get_args(DensePooling)

#: How a bi-encoder compares a query and a document: inner product, or cosine (vectors normalised first).
Similarity = Literal["dot", "cos"]
SIMILARITIES: tuple[str, ...] = typing.get_args(Similarity)

#: How a vector index searches: exactly (blocked matrix products), or an HNSW graph (approximate).
VectorMethod = Literal["exact", "hnsw"]
VECTOR_METHODS: tuple[str, ...] = typing.get_args(VectorMethod)

#: Engines of a text (BM25, TF-IDF, ...) index.
Engine = Literal["terrier", "pisa"]
ENGINES: tuple[str, ...] = typing.get_args(Engine)

#: Engines of a learned-sparse (SPLADE) index.
SparseEngine = Literal["pisa", "terrier", "exact", "seismic"]
SPARSE_ENGINES: tuple[str, ...] = typing.get_args(SparseEngine)

#: How first stages are fused: reciprocal rank fusion, or interpolation of min-max normalised scores.
FusionMethod = Literal["rrf", "interpolate"]
FUSION_METHODS: tuple[str, ...] = typing.get_args(FusionMethod)

#: The head of a RankT5 encoder: the paper's dense layer, or naver's linear-layernorm-linear.
RankT5Head = Literal["dense", "linear-layernorm-linear"]
RANKT5_HEADS: tuple[str, ...] = typing.get_args(RankT5Head)

#: Impact indexes store ``round(weight * scale)`` as integers; SPLADE's usual scale (one default for every engine).
DEFAULT_SCALE = 100.0

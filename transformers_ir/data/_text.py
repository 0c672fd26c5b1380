"""Document text for re-rankers: fetch a dataset's text fields and join them into one ``text`` column."""
from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyterrier as pt

from transformers_ir._quiet import SCREEN
from transformers_ir.data._datasets import corpus_id
from transformers_ir.errors import DocnoNotInCorpus


class JoinFields(pt.Transformer):
    """Join several text columns into one (``title`` + ' ' + ``text`` for BEIR, as ir_datasets' default_text),
    dropping the parts. Rows keep every other column.

    Args:
        fields: the columns to join, in order.
        text_field: the column that receives the joined text.
    """

    def __init__(self, fields: list[str], *, text_field: str = "text"):
        self.fields = list(fields)
        self.text_field = text_field

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        if self.fields == [self.text_field]:
            return inp
        parts = [inp[f].fillna("").astype(str) for f in self.fields]
        joined = parts[0]
        for part in parts[1:]:
            joined = (joined + " " + part).str.strip()
        extra = [f for f in self.fields if f != self.text_field]
        return inp.drop(columns=extra).assign(**{self.text_field: joined})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (other.fields, other.text_field) == (self.fields, self.text_field)

    def __hash__(self) -> int:
        return hash((tuple(self.fields), self.text_field))

    def __repr__(self) -> str:
        return f"JoinFields({self.fields!r})"


def corpus_size(dataset) -> int | None:
    """The number of documents in ``dataset``'s corpus when it says (ir_datasets' ``docs_count``), else None."""
    try:
        count = dataset.irds_ref().docs_count()
    except Exception:  # noqa: BLE001 - not an ir_datasets dataset, or one that does not know
        return None
    return int(count) if isinstance(count, int) and count >= 0 else None


def corpus_docs(dataset, *, text_field: str = "text", progress: str | None = None) -> Iterator[dict]:
    """``{docno, text_field}`` for every document of a dataset's corpus, its text fields joined with a space
    (title + body for BEIR, as :class:`JoinFields` and ir_datasets' default_text do): what encoders index.

    Args:
        dataset: a dataset whose ``text_fields()`` name the fields (else ``text_field`` alone is read).
        text_field: the field that receives the joined text.
        progress: what the documents are read for (``"encoding for X's vector index"``): said in one line
            before the first document, then a progress bar over the corpus shows the total and the time left at
            the measured rate. None: nothing is shown.

    Returns:
        One dict per document, in corpus order (an iterator).
    """
    docs = _joined(dataset, text_field)
    if progress is None:
        return docs
    total = corpus_size(dataset)
    SCREEN.write(f"transformers-ir: {progress}: "
                 f"{'the' if total is None else f'{total:,}'} documents of {corpus_id(dataset)}\n")
    return iter(pt.tqdm(docs, total=total, desc=progress, unit="doc", file=SCREEN))


def _joined(dataset, text_field: str) -> Iterator[dict]:
    fields = dataset.text_fields() if hasattr(dataset, "text_fields") else [text_field]
    for doc in dataset.get_corpus_iter(verbose=False):
        text = " ".join(str(doc.get(f) or "") for f in fields).strip()
        yield {"docno": doc["docno"], text_field: text}


def text_loader(dataset, *, text_field: str = "text") -> pt.Transformer:
    """``pt.text.get_text`` for the dataset's text fields, joined into ``text_field``.

    Example::

        bm25 % 100 >> text_loader(dataset) >> reranker

    Args:
        dataset: a dataset whose ``text_fields()`` name the fields (else ``text_field`` alone is fetched).
        text_field: the column the re-rankers read.

    Returns:
        The transformer adding ``text_field`` to a result frame.

    Raises:
        ValueError: the dataset has no document texts.
    """
    from transformers_ir.data._safe_docstore import protect_docstores

    protect_docstores()  # get_text reads ir_datasets' pickled docstore
    fields = dataset.text_fields() if hasattr(dataset, "text_fields") else [text_field]
    if not fields:
        raise ValueError(f"{dataset!r} has no document texts; a re-ranker needs a corpus with text")
    return CorpusText(pt.text.get_text(dataset, fields), getattr(dataset, "name", None) or repr(dataset)) \
        >> JoinFields(fields, text_field=text_field)


class CorpusText(pt.Transformer):
    """``pt.text.get_text`` whose missing documents are an error naming them and the corpus (pandas would say
    only ``KeyError: "['x'] not in index"``).

    Args:
        get_text: the text loader (``pt.text.get_text(dataset, fields)``).
        corpus: the corpus's name, for the message.
    """

    def __init__(self, get_text: pt.Transformer, corpus: str):
        self.get_text = get_text
        self.corpus = corpus

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """The rows with their documents' text.

        Args:
            inp: a result frame (``docno``).

        Returns:
            ``inp`` with the text fields added.

        Raises:
            DocnoNotInCorpus: a docno the corpus does not hold.
        """
        try:
            return self.get_text(inp)
        except KeyError as e:
            missing = e.args[0] if e.args else e
            raise DocnoNotInCorpus(f"documents {missing} are not in the corpus of {self.corpus}: the results come "
                                   f"from another collection; set [dataset] corpus to theirs, or give a run of this "
                                   f"corpus") from None

    def cache_key(self) -> None:
        """None: it adds text, not scores, so it is never a stage cache (the text is read from the corpus anyway)."""
        return None

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (other.get_text, other.corpus) == (self.get_text, self.corpus)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.corpus))

    def __repr__(self) -> str:
        return f"CorpusText({self.corpus!r})"

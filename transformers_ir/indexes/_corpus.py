"""Checks on the documents that go into any index: shared by every engine we build indexes with."""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence

import more_itertools

#: What Java's String.trim() removes from both ends of a Terrier docno: every character up to U+0020.
_TRIMMED = "".join(chr(i) for i in range(0x21))


class CorpusGuard:
    """Wraps a document iterator: checks docnos as they stream, counts documents, and remembers an exception
    raised by the source even when the consumer swallows it.

    The remembered exception matters because pyterrier-pisa consumes the iterator in a background thread: an
    error there only kills that thread, and the index would report itself built with fewer documents.
    Call :meth:`check` after indexing: it re-raises such an error and compares the counts.

    Args:
        docs: the documents (dicts with ``docno``).
        max_docno_length: longest docno the engine can store (Terrier's meta index is fixed-width).
        forbid_spaces: refuse docnos with white space (PISA cuts a docno at the first space: ``'a b'`` -> ``'a'``).
        fields: text fields every document must hold as str (an engine fails on None or NaN deep inside, or
            in pyterrier-pisa's writer thread where only "indexing stopped" would be seen).
    """

    def __init__(self, docs: Iterable[dict], *, max_docno_length: int | None = None, forbid_spaces: bool = False,
                 fields: Sequence[str] = ()):
        self.docs = docs
        self.max_docno_length = max_docno_length
        self.forbid_spaces = forbid_spaces
        self.fields = tuple(fields)
        self.count = 0
        self.error: BaseException | None = None
        self.finished = False
        self._seen: set[str] = set()

    def _check_docno(self, docno) -> str:
        if not isinstance(docno, str):
            raise TypeError(f"docno {docno!r} is a {type(docno).__name__}, not a str: convert docnos to str first")
        if not docno:
            raise ValueError(f"document #{self.count} has an empty docno: every document needs a unique docno")
        if not docno.isascii():
            try:
                docno.encode("utf-8")
            except UnicodeEncodeError:  # PISA's C++ aborts the whole process on it; Terrier stores '?'
                raise ValueError(f"docno {docno!r} (document #{self.count}) is not valid Unicode (an unpaired "
                                 f"surrogate): decode the source with errors='replace' or map docnos first") from None
        if any(unicodedata.category(c) == "Cc" for c in docno):  # NUL, tab, newline, escape, ...
            raise ValueError(f"docno {docno!r} (document #{self.count}) holds control characters (tab, newline, "
                             f"NUL, ...), which engines and run files do not keep: map docnos to printable strings")
        if docno != docno.strip() or docno.strip(_TRIMMED) != docno:
            raise ValueError(f"docno {docno!r} (document #{self.count}) starts or ends with white space, which "
                             f"Terrier strips (so 'd1 ' and 'd1' would become one document): strip docnos first")
        if self.max_docno_length is not None and len(docno) > self.max_docno_length:
            raise ValueError(
                f"docno {docno!r} is {len(docno)} characters, longer than this index stores "
                f"({self.max_docno_length}): raise max_docno_length when building the index"
            )
        if self.forbid_spaces and any(c.isspace() for c in docno):
            raise ValueError(
                f"docno {docno!r} contains white space, which PISA cuts at the first space: "
                f"map docnos to strings without spaces before indexing"
            )
        if docno in self._seen:
            raise ValueError(f"duplicate docno {docno!r} in the corpus (document #{self.count}): docnos must be unique")
        self._seen.add(docno)
        return docno

    def _check_text(self, doc: dict) -> None:
        for field in self.fields:
            text = doc.get(field)
            if isinstance(text, str):
                if not text.isascii():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError as e:
                        raise ValueError(
                            f"document {doc['docno']!r}: field {field!r} is not valid Unicode ({e.reason} at "
                            f"{e.start}): decode the source with errors='replace'"
                        ) from None
                continue
            if field not in doc:
                raise KeyError(f"document {doc['docno']!r} has no field {field!r} (fields: {sorted(doc)}): give "
                               f"every document the fields indexed, or pass fields=[...] naming the ones it has")
            problem = "is missing (None/NaN)" if text is None or text != text else f"holds a {type(text).__name__}"
            raise TypeError(f"document {doc['docno']!r}: field {field!r} {problem}, not text: fill missing text with "
                            f"'' and convert values to str before indexing")

    def __iter__(self) -> Iterator[dict]:
        try:
            for doc in self.docs:
                if "docno" not in doc:
                    raise KeyError(f"document #{self.count} has no 'docno' field (fields: {sorted(doc)})")
                self._check_docno(doc["docno"])
                self._check_text(doc)
                self.count += 1
                yield doc
        except BaseException as e:
            self.error = e
            raise
        self.finished = True
        self._seen.clear()

    def stream(self) -> Iterator[dict]:
        """The checked documents, after the first has been read: a source that is empty or fails on its first
        document raises here, in Python, before an engine starts (PISA's C++ indexer aborts the process on an
        empty stream; Terrier writes an index it cannot open)."""
        stream = more_itertools.peekable(iter(self))
        if stream.peek(None) is None:
            self.check()
        return stream

    def check(self, indexed: int | None = None) -> None:
        """Raise if the source failed or was not read to its end, or the index holds another number of docs."""
        if self.error is not None:
            raise self.error
        if not self.finished:
            raise RuntimeError(f"indexing stopped after {self.count} documents without reading the whole corpus")
        if self.count == 0:
            raise ValueError("the corpus is empty: there is nothing to index")
        if indexed is not None and indexed != self.count:
            raise RuntimeError(f"the index holds {indexed} documents but {self.count} were given: "
                               "the build is incomplete")

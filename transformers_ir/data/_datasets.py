"""``get_dataset``: PyTerrier datasets that work offline.

* ir_datasets ids (``irds:vaswani``, ``irds:cranfield``, ``irds:beir/scifact/test``, ...) are served by
  ``pt.get_dataset('irds:...')`` after :mod:`._offline` has filled ir_datasets' cache from the data folder;
  with no data folder, ir_datasets downloads as usual.
* Cranfield's relevance codes are remapped here for graded metrics (see :data:`CRANFIELD_LABELS`).
* The TREC DL 2019/2020 and MS MARCO dev topics and qrels (no passages) load from the data folder as
  topics/qrels-only datasets, so a run file produced elsewhere can be evaluated.
"""
from __future__ import annotations

from pathlib import Path

import ir_datasets
import pandas as pd
import pyterrier as pt

from transformers_ir import _paths
from transformers_ir.data._offline import COLLECTIONS, prepare_collection
from transformers_ir.data._safe_docstore import protect_docstores
from transformers_ir.errors import DatasetUnavailable

#: Cranfield's codes (cranqrel.readme): 1 = complete answer ... 4 = minimum interest, -1 = no interest.
#: A *smaller* positive code is *more* relevant, so graded labels are ``5 - code`` and -1 becomes 0.
CRANFIELD_LABELS = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}

#: Topics/qrels-only datasets read from the data folder: id -> (topics file, qrels file, keep judged only).
TOPICS_QRELS_FILES = {
    "msmarco-passage/trec-dl-2019/judged": ("topics.dl19-passage.txt", "qrels.dl19-passage.txt", True),
    "msmarco-passage/trec-dl-2020": ("topics.dl20.txt", "qrels.dl20-passage.txt", False),
    "msmarco-passage/trec-dl-2020/judged": ("topics.dl20.txt", "qrels.dl20-passage.txt", True),
    "msmarco-passage/dev/small": (
        "topics.msmarco-passage.dev-subset.txt",
        "qrels.msmarco-passage.dev-subset.txt",
        False,
    ),
}
_MSMARCO_FOLDER = "msmarco_passage_trecdl"


def _unavailable(name: str, err: Exception) -> DatasetUnavailable:
    where = _paths.data_dir()
    return DatasetUnavailable(
        f"dataset {name!r} could not be loaded: it is not in the offline data folder "
        f"({where if where else 'none found'}) and ir_datasets could not download it ({type(err).__name__}: {err}). "
        f"Fix: put its files in a data folder with the ../shared/data layout and set {_paths.DATA_ENV}, "
        f"or run where ir_datasets' servers can be reached."
    )


class OfflineDataset(pt.datasets.Dataset):
    """An ir_datasets dataset whose cache was filled from the offline data folder when possible.

    It wraps what ``pt.get_dataset('irds:<id>')`` returns (PyTerrier's public factory) and differs from it in:
    topics with several fields use ``text`` as the query (BEIR) instead of printing a hint; download failures
    raise :class:`DatasetUnavailable` with the fix; ``cranfield`` qrels carry graded labels
    (:data:`CRANFIELD_LABELS`); :meth:`text_fields` names the fields documents' text is made of.

    Args:
        irds_id: the ir_datasets id (without ``irds:``).

    Raises:
        DatasetUnavailable: ir_datasets has no such id.
    """

    def __init__(self, irds_id: str):
        try:
            self._irds = pt.get_dataset(f"irds:{irds_id}")
        except KeyError as e:
            raise DatasetUnavailable(
                f"unknown dataset 'irds:{irds_id}': ir_datasets has no such id. "
                f"Fix: check the spelling against `ir_datasets list` (e.g. 'irds:beir/scifact/test')."
            ) from e
        self.irds_id = irds_id
        self.name = f"irds:{irds_id}"

    def _guard(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (NotImplementedError, DatasetUnavailable):
            raise
        except Exception as e:  # ir_datasets raises many kinds of download errors
            raise _unavailable(self.name, e) from e

    def irds_ref(self):
        """The ir_datasets dataset object.

        Returns:
            What ``ir_datasets.load(id)`` gives.
        """
        return self._irds.irds_ref()

    def get_topics(self, variant=None) -> pd.DataFrame:
        """The topics (``qid`` as str); a BEIR-style dataset's ``text`` field is the query.

        Args:
            variant: the query field to use (default: ``text`` when there are several, else the only one).

        Returns:
            ``qid, query`` (and the dataset's other query fields).

        Raises:
            DatasetUnavailable: the topics can be neither read offline nor downloaded.
        """
        if variant is None:
            fields = self.irds_ref().queries_cls()._fields[1:]
            if len(fields) > 1 and "text" in fields:
                variant = "text"
        topics = self._guard(self._irds.get_topics, variant)
        return topics.astype({"qid": str})

    def get_qrels(self, variant=None) -> pd.DataFrame:
        """The judgments (``qid``, ``docno`` as str); Cranfield's codes as graded labels.

        Args:
            variant: passed to PyTerrier's dataset.

        Returns:
            ``qid, docno, label``.

        Raises:
            DatasetUnavailable: the qrels can be neither read offline nor downloaded.
        """
        qrels = self._guard(self._irds.get_qrels, variant).astype({"qid": str, "docno": str})
        if self.irds_id == "cranfield":
            unknown = set(qrels["label"]) - set(CRANFIELD_LABELS)
            if unknown:
                raise DatasetUnavailable(f"cranfield qrels hold unexpected relevance codes {sorted(unknown)}")
            qrels = qrels.assign(label=qrels["label"].map(CRANFIELD_LABELS).astype(int))
        return qrels

    def get_corpus_iter(self, verbose=True, start=0, count=None):
        """The documents as dicts (``docno`` and the text fields).

        Args:
            verbose: show progress.
            start: skip this many documents.
            count: read at most this many.

        Returns:
            An iterator of dicts.

        Raises:
            DatasetUnavailable: the documents can be neither read offline nor downloaded.
        """
        return self._guard(self._irds.get_corpus_iter, verbose=verbose, start=start, count=count)

    def get_corpus_lang(self):
        """The documents' language (ir_datasets' code), or None."""
        return self._irds.get_corpus_lang()

    def get_topics_lang(self):
        """The queries' language (ir_datasets' code), or None."""
        return self._irds.get_topics_lang()

    def text_loader(self, fields="*", *, verbose=False):
        """PyTerrier's text loader for these documents (what ``pt.text.get_text(dataset, fields)`` uses).

        Args:
            fields: the document fields to add.
            verbose: show progress.

        Returns:
            The transformer.
        """
        return self._irds.text_loader(fields, verbose=verbose)

    def info_url(self):
        """Where ir_datasets documents this dataset."""
        return self._irds.info_url()

    def text_fields(self) -> list[str]:
        """The document fields that make up its text: ``title`` (when present) then ``text``.

        Returns:
            The field names.
        """
        fields = self.irds_ref().docs_cls()._fields
        return [f for f in ("title", "text") if f in fields] or [f for f in fields[1:]]

    def __repr__(self) -> str:
        return f"get_dataset({self.name!r})"


class TopicsQrelsDataset(pt.datasets.Dataset):
    """A dataset of topics and qrels read from files, with no corpus (e.g. TREC DL without MS MARCO passages).

    Args:
        name: its id (``irds:...``).
        topics_path: a single-line topics file.
        qrels_path: a TREC qrels file.
        judged_only: keep only the topics with judgments.
    """

    def __init__(self, name: str, topics_path: Path, qrels_path: Path, *, judged_only: bool = False):
        self.name = name
        self.topics_path = Path(topics_path)
        self.qrels_path = Path(qrels_path)
        self.judged_only = judged_only

    def get_topics(self, variant=None) -> pd.DataFrame:
        topics = pt.io.read_topics(str(self.topics_path), format="singleline").astype({"qid": str})
        if self.judged_only:
            topics = topics[topics["qid"].isin(set(self.get_qrels()["qid"]))].reset_index(drop=True)
        return topics

    def get_qrels(self, variant=None) -> pd.DataFrame:
        return pt.io.read_qrels(str(self.qrels_path)).astype({"qid": str, "docno": str})

    def get_corpus_iter(self, verbose=True):
        raise NotImplementedError(
            f"{self.name} has topics and qrels only here (no passage texts are available offline): "
            f"evaluate a run file with the 'run' component instead of retrieving"
        )

    def text_fields(self) -> list[str]:
        """No document fields: there are no documents."""
        return []

    def __repr__(self) -> str:
        return f"get_dataset({self.name!r})"


def corpus_id(dataset) -> str:
    """The id of a dataset's corpus, which datasets sharing their documents share: ``irds:beir/scifact/test`` and
    ``irds:beir/scifact/train`` both give ``beir/scifact`` (what indexes are named by).

    Args:
        dataset: a PyTerrier dataset (its ``name``, else its ``repr``, is read).

    Returns:
        The ir_datasets id of its documents, or the dataset's name when it is not an ir_datasets id.
    """
    name = getattr(dataset, "name", None) or repr(dataset)
    irds_id = name.removeprefix("irds:")
    try:
        return ir_datasets.docs_parent_id(irds_id)
    except Exception:  # not an ir_datasets id (ir_datasets raises several kinds): keep the name
        return irds_id


def get_dataset(name: str) -> pt.datasets.Dataset:
    """A PyTerrier dataset by ir_datasets id, prepared offline when the data folder has it.

    Args:
        name: ``'irds:vaswani'``, ``'irds:cranfield'``, ``'irds:beir/scifact/test'``, ``'irds:beir/scifact/train'``,
            ``'irds:msmarco-passage/trec-dl-2019/judged'``, ... (the ``irds:`` prefix is optional).

    Returns:
        An :class:`OfflineDataset`, or a :class:`TopicsQrelsDataset` for the topics-and-qrels-only ids.

    Raises:
        DatasetUnavailable: an unknown id, or one neither in the data folder nor downloadable.
    """
    protect_docstores()
    irds_id = name.removeprefix("irds:")
    if irds_id in TOPICS_QRELS_FILES:
        data = _paths.data_dir()
        topics, qrels, judged = TOPICS_QRELS_FILES[irds_id]
        if data is not None and (data / _MSMARCO_FOLDER / topics).is_file():
            folder = data / _MSMARCO_FOLDER
            return TopicsQrelsDataset(f"irds:{irds_id}", folder / topics, folder / qrels, judged_only=judged)
    prepare_collection(irds_id)
    return OfflineDataset(irds_id)


class OfflineDatasetProvider(pt.datasets.DatasetProvider):
    """PyTerrier's ``pyterrier.dataset_provider`` entry point ``transformers-ir``: ``pt.get_dataset(
    "transformers-ir:beir/scifact/test")`` is :func:`get_dataset` (the offline cache, Cranfield's graded labels,
    the TREC DL topics and qrels)."""

    def get_dataset(self, name: str) -> pt.datasets.Dataset:
        """The dataset :func:`get_dataset` gives for ``name``.

        Args:
            name: an ir_datasets id, with or without ``irds:``.

        Returns:
            The dataset.

        Raises:
            DatasetUnavailable: unknown, or neither offline nor downloadable.
        """
        return get_dataset(name)

    def list_dataset_names(self) -> list[str]:
        """The ids served from the offline data folder (any other ir_datasets id works too, downloaded).

        Returns:
            The ids.
        """
        return sorted({*COLLECTIONS, *TOPICS_QRELS_FILES})

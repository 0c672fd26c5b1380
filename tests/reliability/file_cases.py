"""Hostile pipeline files and training configs: each one a base file with one value made wrong (type, range,
non-finite number, a metric the evaluators reject, a system name that cannot be a file name or run tag, bytes
that are not UTF-8). The matrix parses every one (``test_matrix.py``), the CLI runs every one
(``test_cli_inputs.py``): each must be refused where the file is parsed, naming the file and the problem.
"""
from __future__ import annotations

from dataclasses import dataclass

PIPELINE = """name = "hostile"

[dataset]
topics = "irds:vaswani"

[evaluation]
metrics = ["AP", "nDCG@10"]
baseline = "bm25"

[[systems]]
name = "bm25"
pipeline = [{ component = "bm25", engine = "pisa", "%" = 100 }]

[[systems]]
name = "bm25_rerank"
pipeline = [
    { component = "bm25", engine = "pisa", "%" = 10 },
    { component = "text" },
    { component = "cross-encoder", model = "all-MiniLM-L6-v2", num_labels = 1, batch_size = 8 },
]

[[systems]]
name = "fused"
pipeline = [{ component = "fusion", systems = ["bm25", "bm25_rerank"], method = "rrf", k = 60.0 }]
"""

TRAINING = """name = "hostile"

[model]
family = "cross-encoder"
name = "all-MiniLM-L6-v2"
options = { num_labels = 1 }

[data]
topics = "irds:vaswani"
negatives = { component = "bm25", engine = "pisa" }
depth = 10
group_size = 4

[loss]
name = "grouped-softmax"

[train]
epochs = 1.0
learning_rate = 3e-5
batch_size = 2
"""


@dataclass(frozen=True)
class FileCase:
    name: str
    old: str | bytes  # what is replaced in the base file
    new: str | bytes
    match: str  # what the error must say (a regular expression, case-insensitive)
    ok: bool = False  # a value that looks odd but is valid: parsed without error

    def text(self, base: str) -> bytes:
        data = base.encode()
        old = self.old.encode() if isinstance(self.old, str) else self.old
        new = self.new.encode() if isinstance(self.new, str) else self.new
        assert old in data, f"{self.name}: {old!r} is not in the base file"
        return data.replace(old, new, 1)


_BM25 = '{ component = "bm25", engine = "pisa", "%" = 100 }'
_CE = 'model = "all-MiniLM-L6-v2"'
_FUSION = 'systems = ["bm25", "bm25_rerank"], method = "rrf", k = 60.0'


def _bm25(params: str) -> tuple[str, str]:
    return _BM25, "{ component = \"bm25\", engine = \"pisa\", " + params + " }"


PIPELINE_CASES = [
    # types: a table where a string belongs, a number where an id belongs
    FileCase("topics-table", 'topics = "irds:vaswani"', "topics = { id = 1 }", "dataset id"),
    FileCase("topics-number", 'topics = "irds:vaswani"', "topics = 5", "dataset id"),
    FileCase("topics-empty", 'topics = "irds:vaswani"', 'topics = ""', "dataset id"),
    FileCase("qrels-number", 'topics = "irds:vaswani"', 'topics = "irds:vaswani"\nqrels = 7', "dataset id"),
    FileCase("dataset-not-table", '[dataset]\ntopics = "irds:vaswani"', 'dataset = "irds:vaswani"', "missing dataset"),
    FileCase("evaluation-not-table", '[evaluation]\nmetrics = ["AP", "nDCG@10"]\nbaseline = "bm25"',
             "evaluation = 5", "evaluation"),
    FileCase("metrics-string", 'metrics = ["AP", "nDCG@10"]', 'metrics = "AP"', "needs metrics"),
    FileCase("metrics-table", 'metrics = ["AP", "nDCG@10"]', "metrics = [{ name = 1 }]", "needs metrics"),
    FileCase("baseline-number", 'baseline = "bm25"', "baseline = 3", "baseline"),
    FileCase("correction-table", 'baseline = "bm25"', 'baseline = "bm25"\ncorrection = { a = 1 }', "correction"),
    FileCase("test-list", 'baseline = "bm25"', 'baseline = "bm25"\ntest = ["t"]', "unknown test"),
    FileCase("name-number", 'name = "hostile"', "name = 5", "name must be a line of text"),
    FileCase("description-table", 'name = "hostile"', 'name = "hostile"\ndescription = { a = 1 }',
             "description must be a line of text"),
    FileCase("component-table", 'component = "text"', "component = { a = 1 }", "unknown component"),
    FileCase("component-number", 'component = "text"', "component = 5", "unknown component"),
    FileCase("model-table", _CE, "model = { name = 1 }", "model.*must be str"),
    FileCase("model-number", _CE, "model = 5", "model.*must be str"),
    FileCase("model-empty", _CE, 'model = ""', "must name something"),
    FileCase("k1-string", *_bm25('k1 = "1.2"'), "k1.*must be float"),
    FileCase("systems-not-tables", PIPELINE, "systems = [1, 2]\n" + PIPELINE[:PIPELINE.index("[[systems]]")],
             "system #1 must be a table"),
    # ranges
    FileCase("cutoff-zero", '"%" = 100', '"%" = 0', "positive whole number"),
    FileCase("cutoff-negative", '"%" = 100', '"%" = -5', "positive whole number"),
    FileCase("cutoff-fraction", '"%" = 100', '"%" = 2.5', "positive whole number"),
    FileCase("cutoff-string", '"%" = 100', '"%" = "100"', "positive whole number"),
    FileCase("num-results-zero", *_bm25("num_results = 0"), "num_results must be a positive whole number"),
    FileCase("num-results-negative", *_bm25("num_results = -10"), "num_results must be a positive whole number"),
    FileCase("num-results-huge", *_bm25("num_results = 1_000_000_000_000"), "at most 1,000,000"),
    FileCase("b-out-of-range", *_bm25("b = 2.0"), "b must be a number between 0 and 1"),
    FileCase("k1-negative", *_bm25("k1 = -0.5"), "k1 must be a number >= 0"),
    FileCase("batch-size-zero", "batch_size = 8", "batch_size = 0", "batch_size must be a positive whole number"),
    FileCase("num-labels-negative", "num_labels = 1", "num_labels = -1", "num_labels must be a positive"),
    FileCase("max-length-zero", "batch_size = 8", "batch_size = 8, max_length = 0",
             "max_length must be a positive"),
    FileCase("fusion-k-zero", "k = 60.0", "k = 0", "k must be a number > 0"),
    FileCase("fusion-num-results-zero", "k = 60.0", "k = 60.0, num_results = 0", "num_results must be"),
    FileCase("fusion-same-system-twice", '["bm25", "bm25_rerank"]', '["bm25", "bm25"]', "names a system twice"),
    # non-finite numbers
    FileCase("k1-nan", *_bm25("k1 = nan"), "finite"),
    FileCase("b-inf", *_bm25("b = inf"), "finite"),
    FileCase("fusion-weights-nan", "k = 60.0", "k = 60.0, weights = [nan, 1.0]", "finite"),
    FileCase("fusion-k-inf", "k = 60.0", "k = inf", "finite"),
    # metrics the evaluators reject (a cutoff of 0 aborts trec_eval's process)
    FileCase("metric-cutoff-zero", '"nDCG@10"', '"P@0"', "cutoff must be a positive whole number"),
    FileCase("metric-recall-zero", '"nDCG@10"', '"R@0"', "cutoff must be a positive whole number"),
    FileCase("metric-fraction-cutoff", '"nDCG@10"', '"P@1.5"', "cutoff must be a positive whole number"),
    FileCase("metric-rel-zero", '"nDCG@10"', '"P(rel=0)@5"', "rel must be a positive whole number"),
    FileCase("metric-without-evaluator", '"nDCG@10"', '"alpha_nDCG@10"', "no evaluator"),
    FileCase("metric-unknown", '"nDCG@10"', '"Foo@10"', "unknown metric"),
    FileCase("metric-twice", '"nDCG@10"', '"AP"', "listed twice"),
    # system names as file names and TREC run tags
    FileCase("system-name-newline", 'name = "fused"', 'name = "fu\\nsed"', "control characters"),
    FileCase("system-name-nul", 'name = "fused"', 'name = "fu\\u0000sed"', "control characters"),
    FileCase("system-name-tab", 'name = "fused"', 'name = "fu\\tsed"', "control characters"),
    FileCase("system-name-blank", 'name = "fused"', 'name = "   "', "is empty"),
    FileCase("system-name-too-long", 'name = "fused"', f'name = "{"x" * 300}"', "longer than"),
    FileCase("system-names-collide", 'name = "fused"', 'name = "bm25 rerank"', "same run file"),  # -> bm25_rerank
    FileCase("system-names-collide-case", 'name = "fused"', 'name = "BM25"', "same run file"),
    FileCase("system-name-number", 'name = "fused"', "name = 25", "has no name"),
    FileCase("system-name-with-spaces", 'name = "fused"', 'name = "fused run"', "", ok=True),
    # bytes and syntax
    FileCase("not-utf8", b'name = "hostile"', b'name = "hostile" # caf\xe9', "not UTF-8"),
    FileCase("not-toml", "[[systems]]", "[[systems]", "not valid TOML"),
    FileCase("splade-scale-inf", _BM25, '{ component = "splade", scale = inf }', "finite"),
    FileCase("splade-shard-docs-zero", _BM25, '{ component = "splade", shard_docs = 0 }', "shard_docs must be"),
    FileCase("splade-threshold-negative", _BM25, '{ component = "splade", threshold = -1.0 }', "threshold must be"),
    FileCase("terrier-controls-nested", _BM25, '{ component = "terrier", controls = { c = { d = 1 } } }',
             "controls"),
    FileCase("text-field-empty", 'component = "text"', 'component = "text", text_field = ""', "must name something"),
]
TRAINING_CASES = [
    FileCase("lr-nan", "learning_rate = 3e-5", "learning_rate = nan", "finite"),
    FileCase("lr-negative", "learning_rate = 3e-5", "learning_rate = -1e-5", "learning_rate must be a number >= 0"),
    FileCase("lr-string", "learning_rate = 3e-5", 'learning_rate = "fast"', "learning_rate must be float"),
    FileCase("epochs-inf", "epochs = 1.0", "epochs = inf", "finite"),
    FileCase("batch-size-zero", "batch_size = 2", "batch_size = 0", "batch_size must be a positive"),
    FileCase("depth-negative", "depth = 10", "depth = -3", "depth must be a positive"),
    FileCase("group-size-table", "group_size = 4", "group_size = { n = 4 }", "group_size must be int"),
    FileCase("topics-number", 'topics = "irds:vaswani"', "topics = 5", "topics must be str"),
    FileCase("model-table", 'name = "all-MiniLM-L6-v2"', "name = { a = 1 }", "name must be str"),
    FileCase("seed-negative", "batch_size = 2", "batch_size = 2\nseed = -1", "seed must be a whole number >= 0"),
    FileCase("warmup-ratio-too-big", "batch_size = 2", "batch_size = 2\nwarmup_ratio = 1.5", "warmup_ratio must be"),
    FileCase("weight-decay-nan", "batch_size = 2", "batch_size = 2\nweight_decay = nan", "finite"),
    FileCase("num-labels-zero", "num_labels = 1", "num_labels = 0", "num_labels must be a positive"),
    FileCase("negatives-unknown-component", 'component = "bm25", engine = "pisa"', 'component = "nope"',
             "registered first stage"),
    FileCase("negatives-component-number", 'component = "bm25", engine = "pisa"', "component = 5",
             "registered first stage"),
    FileCase("negatives-cutoff-zero", 'engine = "pisa" }', 'engine = "pisa", "%" = 0 }', "positive whole number"),
    FileCase("negatives-bad-parameter", 'engine = "pisa" }', 'engine = "pisa", num_results = -1 }',
             "num_results must be a positive"),
    FileCase("negatives-nan", 'engine = "pisa" }', 'engine = "pisa", k1 = nan }', "finite"),
    FileCase("not-utf8", b'name = "hostile"', b'name = "hostile" # caf\xe9', "not UTF-8"),
    FileCase("section-not-table", TRAINING, 'loss = "grouped-softmax"\n' + TRAINING.replace(
        '[loss]\nname = "grouped-softmax"\n', ""), r"\[loss\] must be a table"),
]

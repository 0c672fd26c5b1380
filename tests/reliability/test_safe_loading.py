"""Safe loading: no path traversal out of archives, no code run from weights, no remote code, no imports from
pipeline files."""
from __future__ import annotations

import ast
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch

from transformers_ir._safe_io import UnsafeArchive, UnsafeWeights, check_torch_version, load_weights, safe_extract

pytestmark = pytest.mark.reliability
PACKAGE = Path(__file__).resolve().parents[2] / "transformers_ir"


def _tar(path: Path, members: list[tuple[str, str | bytes | None, str]]) -> Path:
    """A tar holding (name, content or link target, kind) members: kind is 'file', 'symlink' or 'hardlink'."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else payload
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = payload
                tar.addfile(info)
    return path


def _zip(path: Path, members: list[tuple[str, str, int]]) -> Path:
    """A zip holding (name, content, unix mode) members."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, content)
    return path


def _sibling_name(dest: Path) -> str:
    """'../<dest>-evil/x': resolves to a sibling whose path starts with dest's path as a string."""
    return f"../{dest.name}-evil/pwned"


@pytest.mark.parametrize("fmt", ["tar", "zip"])
@pytest.mark.parametrize("case", ["dotdot", "absolute", "sibling-prefix", "nested-dotdot"])
def test_traversal_members_are_refused(tmp_path, fmt, case):
    dest = tmp_path / "out"
    name = {"dotdot": "../pwned", "absolute": str(tmp_path / "pwned"), "sibling-prefix": _sibling_name(dest),
            "nested-dotdot": "ok/../../pwned"}[case]
    archive = (_tar(tmp_path / "a.tar.gz", [("good.txt", "fine", "file"), (name, "evil", "file")]) if fmt == "tar"
               else _zip(tmp_path / "a.zip", [("good.txt", "fine", 0o100644), (name, "evil", 0o100644)]))
    with pytest.raises(UnsafeArchive, match="outside|absolute"):
        safe_extract(archive, dest)
    assert not dest.exists(), "nothing may be extracted from an unsafe archive"
    assert not list(tmp_path.rglob("pwned")), "a member escaped the destination"
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("kind, target", [("symlink", "/etc/passwd"), ("symlink", "../../outside"),
                                          ("hardlink", "/etc/passwd")])
def test_tar_links_are_refused(tmp_path, kind, target):
    archive = _tar(tmp_path / "a.tar.gz", [("link", target, kind), ("link/escape", "evil", "file")])
    with pytest.raises(UnsafeArchive, match="link"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_symlink_is_refused(tmp_path):
    archive = _zip(tmp_path / "a.zip", [("link", "/etc/passwd", 0o120777)])
    with pytest.raises(UnsafeArchive, match="symlink"):
        safe_extract(archive, tmp_path / "out")


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_a_safe_archive_extracts_completely(tmp_path, fmt):
    members = [("index/meta.json", "{}"), ("index/part/data.bin", "x" * 1000), ("top.txt", "t")]
    archive = (_tar(tmp_path / "a.tgz", [(n, c, "file") for n, c in members]) if fmt == "tar"
               else _zip(tmp_path / "a.zip", [(n, c, 0o100644) for n, c in members]))
    dest = safe_extract(archive, tmp_path / "out")
    assert {p.relative_to(dest).as_posix(): p.read_text() for p in dest.rglob("*") if p.is_file()} == dict(members)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        safe_extract(archive, dest)
    safe_extract(archive, dest, overwrite=True)


def test_not_an_archive(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"not an archive")
    with pytest.raises(UnsafeArchive, match="neither a tar nor a zip"):
        safe_extract(tmp_path / "x.bin", tmp_path / "out")


class _Payload:
    """Unpickling this object would run code: the attack ``weights_only=True`` exists to stop."""

    def __reduce__(self):
        return (Path.touch, (Path("/tmp/transformers-ir-pwned"),))


def test_weights_load_tensors_only(tmp_path):
    state = {"w": torch.arange(4.0)}
    torch.save(state, tmp_path / "ok.bin")
    assert torch.equal(load_weights(tmp_path / "ok.bin")["w"], state["w"])
    from safetensors.torch import save_file

    save_file(state, tmp_path / "ok.safetensors")
    assert torch.equal(load_weights(tmp_path / "ok.safetensors")["w"], state["w"])
    marker = Path("/tmp/transformers-ir-pwned")
    marker.unlink(missing_ok=True)
    with open(tmp_path / "evil.bin", "wb") as f:
        pickle.dump({"w": _Payload()}, f)
    with pytest.raises(UnsafeWeights, match="safetensors"):
        load_weights(tmp_path / "evil.bin")
    assert not marker.exists(), "loading weights ran code"


def test_torch_release_has_no_known_weights_only_bypass():
    check_torch_version()  # the installed torch
    with pytest.raises(UnsafeWeights, match="torch>=2.6"):
        check_torch_version("2.5.1+cpu")
    check_torch_version("2.6.0")


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = (getattr(func.value, "id", getattr(func.value, "attr", ""))
                     if isinstance(func, ast.Attribute) else "")
            yield node, owner, name


def _code_problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    for node, owner, name in _calls(tree):
        keywords = {k.arg: k.value for k in node.keywords}
        if owner == "torch" and name == "load":
            value = keywords.get("weights_only")
            if not (isinstance(value, ast.Constant) and value.value is True):
                problems.append(f"{where}:{node.lineno}: torch.load without weights_only=True")
        if owner in ("pickle", "dill", "joblib", "cloudpickle") and name in ("load", "loads", "Unpickler"):
            problems.append(f"{where}:{node.lineno}: {owner}.{name} unpickles arbitrary objects")
        if name == "read_pickle":
            problems.append(f"{where}:{node.lineno}: {owner}.read_pickle unpickles arbitrary objects")
        if owner in ("np", "numpy") and name == "load":
            value = keywords.get("allow_pickle")
            if value is not None and not (isinstance(value, ast.Constant) and value.value is False):
                problems.append(f"{where}:{node.lineno}: np.load with allow_pickle")
        value = keywords.get("trust_remote_code")
        if isinstance(value, ast.Constant) and value.value is True:
            problems.append(f"{where}:{node.lineno}: trust_remote_code=True is hard-coded")
    for node in ast.walk(tree):  # a parameter defaulting to trust_remote_code=True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
            defaults += node.args.kw_defaults
            for arg, default in zip(args, defaults):
                if arg.arg == "trust_remote_code" and isinstance(default, ast.Constant) and default.value is True:
                    problems.append(f"{where}:{node.lineno}: {node.name}(trust_remote_code=True) by default")
    return problems


def test_scanner_finds_what_it_must():
    bad = ("import torch, pickle\ntorch.load('x')\ntorch.load('x', weights_only=False)\npickle.loads(b'')\n"
           "AutoModel.from_pretrained('x', trust_remote_code=True)\ndef f(*, trust_remote_code=True): pass\n"
           "np.load('x.npy', allow_pickle=True)\npd.read_pickle('x')\njoblib.load('x')\n")
    assert len(_code_problems(bad, "bad.py")) == 8
    assert _code_problems("torch.load('x', map_location='cpu', weights_only=True)\n", "ok.py") == []


def test_library_code_loads_weights_safely():
    """Every ``torch.load`` passes ``weights_only=True``; no pickle; ``trust_remote_code`` only when asked."""
    problems = []
    for file in sorted(PACKAGE.rglob("*.py")):
        problems += _code_problems(file.read_text(encoding="utf-8"), str(file.relative_to(PACKAGE.parent)))
    assert problems == []


def test_pipeline_file_cannot_import_code(tmp_path):
    """Only registered components: a dotted path, a module name or a Python expression is refused."""
    from transformers_ir.experiments import PipelineFileError, parse_pipeline

    marker = tmp_path / "imported"
    for component in ["os.system", "transformers_ir.first_stage.bm25", "__import__('os')",
                      f"builtins.open('{marker}', 'w')"]:
        file = tmp_path / "p.toml"
        file.write_text(f'[dataset]\ntopics = "irds:vaswani"\n[evaluation]\nmetrics = ["AP"]\n'
                        f'[[systems]]\nname = "x"\npipeline = [{{ component = "{component}" }}]\n')
        with pytest.raises(PipelineFileError, match="unknown component"):
            parse_pipeline(file)
    assert not marker.exists()


#: Every place in the dependencies we run that could unpickle, and why it cannot run code from a file we read.
#: A new one (a dependency upgraded) fails the test below until it is reviewed and listed here.
DEPENDENCY_UNPICKLING = {
    "ir_datasets/indices/lz4_pickle.py": "docstores: protect_docstores() gives it a plain-values-only unpickler",
    "ir_datasets/indices/indexed_tsv_docstore.py": "docstores: protected like lz4_pickle",
    "ir_datasets/indices/zpickle_docstore.py": "docstores: protected like lz4_pickle",
    "ir_datasets/datasets/aol_ia.py": "the AOL collection's own download, not one of ours",
    "ir_datasets/datasets/c4.py": "the C4 collection's own download, not one of ours",
    "pyterrier/terrier/java.py": "callable weighting models passed in-process through Java, never read from disk",
    "transformers/modeling_utils.py": "load_state_dict(weights_only=True) by default; no caller passes False",
}
#: The dependencies that read what a pipeline run opens: datasets, indexes, evaluation, weights, checkpoints.
DEPENDENCY_FILES = ["pyterrier", "pyterrier_pisa", "pyterrier_alpha", "ir_datasets", "ir_measures", "safetensors",
                    "transformers/trainer.py", "transformers/trainer_pt_utils.py", "transformers/modeling_utils.py",
                    "transformers/tokenization_utils_base.py", "transformers/training_args.py"]


def test_dependencies_we_run_unpickle_nothing_we_read_unprotected():
    """The scan above covers our package; this one covers the dependencies a run reads files through."""
    import importlib.util

    site = Path(importlib.util.find_spec("pyterrier").origin).parents[1]
    problems = {}
    for entry in DEPENDENCY_FILES:
        root = site / entry
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
            found = [p for p in _code_problems(file.read_text(encoding="utf-8"), file.relative_to(site).as_posix())
                     if "trust_remote_code" not in p]  # a parameter of theirs, passed through by callers only
            if found:
                problems[file.relative_to(site).as_posix()] = found
    unreviewed = {f: p for f, p in problems.items() if f not in DEPENDENCY_UNPICKLING}
    assert unreviewed == {}, "new unpickling in a dependency: review it and list it in DEPENDENCY_UNPICKLING"


def test_the_package_never_opens_pyterrier_caching_stores():
    """pyterrier-caching pickles its values (and reads a "pickle" switch from the folder): our caches do not use
    it, and the ir_datasets docstores are protected as soon as a dataset is opened."""
    import pickle as real

    from transformers_ir.data import get_dataset
    from transformers_ir.data._safe_docstore import DOCSTORE_MODULES

    sources = "\n".join(f.read_text(encoding="utf-8") for f in PACKAGE.rglob("*.py"))
    assert "pyterrier_caching" not in sources
    get_dataset("irds:vaswani")
    import sys

    assert all(sys.modules[m].pickle.loads is not real.loads for m in DOCSTORE_MODULES)

"""Safe loading: archives extracted without path traversal, weights read without running code.

Indexes, caches and checkpoints travel as tar or zip files that someone else packed. A crafted member
(``../x``, ``/etc/x``, a symlink pointing out, or ``../<dest>-evil/x``, which passes a naive string-prefix
check) must not write outside the destination; weights must come from safetensors, or from
``torch.load(..., weights_only=True)`` on a torch release without the known ``weights_only`` bypasses (2.6+).
"""
from __future__ import annotations

import os
import pickle
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from transformers_ir._atomic import atomic_dir
from transformers_ir.errors import UnsafeArchive, UnsafeWeights

#: The first torch release whose ``torch.load(weights_only=True)`` has no known bypass (CVE-2025-32434).
MIN_TORCH = (2, 6)






def _contained(dest: Path, name: str) -> Path:
    """The resolved target of member ``name`` under ``dest``; raises when it is absolute or escapes ``dest``."""
    if not name or PurePosixPath(name).is_absolute() or Path(name).is_absolute() or Path(name).drive:
        raise UnsafeArchive(f"archive member {name!r} has an absolute path: re-pack the archive with relative paths")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest.resolve()):  # a real path comparison: '../dest-evil' shares dest's prefix
        raise UnsafeArchive(
            f"archive member {name!r} would be written outside {dest} (path traversal): re-pack the archive with "
            f"paths inside its root"
        )
    return target


def _check_tar(tar: tarfile.TarFile, dest: Path) -> None:
    for member in tar.getmembers():
        _contained(dest, member.name)
        if not (member.isfile() or member.isdir()):
            kind = "a link" if member.issym() or member.islnk() else "a device or pipe"
            raise UnsafeArchive(
                f"archive member {member.name!r} is {kind}; only regular files and folders are extracted: "
                f"re-pack the archive without links (e.g. tar --dereference)"
            )


def _check_zip(zf: zipfile.ZipFile, dest: Path) -> None:
    for info in zf.infolist():
        _contained(dest, info.filename)
        mode = info.external_attr >> 16
        if (mode & 0o170000) not in (0, 0o100000, 0o040000):  # S_IFREG / S_IFDIR (or no Unix mode)
            raise UnsafeArchive(
                f"archive member {info.filename!r} is a symlink or special file; only regular files and folders "
                f"are extracted: re-pack the archive without links"
            )


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Extract a tar (any compression) or zip archive into ``dest``, refusing unsafe members before writing.

    Every member is checked first; any absolute path, member resolving outside ``dest``, link or device
    raises :class:`UnsafeArchive` and nothing is written. Extraction goes to a temporary sibling renamed into
    place when complete, so an interrupted extraction never leaves a half-filled ``dest``.

    Args:
        archive: a ``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.xz``, ``.tar.bz2`` or ``.zip`` file.
        dest: the folder to create (it must not exist unless ``overwrite``).
        overwrite: replace an existing ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist")
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists: pass overwrite=True to replace it")
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            _check_tar(tar, dest)
            with atomic_dir(dest, overwrite=overwrite) as tmp:
                _check_tar(tar, tmp)  # the same names, against the folder actually written
                tar.extractall(tmp, filter="data")  # Python's own guard as well (3.11.4+)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _check_zip(zf, dest)
            with atomic_dir(dest, overwrite=overwrite) as tmp:
                _check_zip(zf, tmp)
                zf.extractall(tmp)
    else:
        raise UnsafeArchive(f"{archive} is neither a tar nor a zip archive: give a .tar(.gz|.xz|.bz2) or .zip file")
    return dest


def check_torch_version(version: str | None = None) -> None:
    """Refuse to load weights with a torch older than 2.6, whose ``weights_only=True`` can be bypassed."""
    if version is None:
        import torch  # only when weights are read: archives are extracted without torch

        version = torch.__version__
    parts = tuple(int(p) for p in version.split("+")[0].split(".")[:2] if p.isdigit())
    if parts < MIN_TORCH:
        raise UnsafeWeights(
            f"torch {version} can run code hidden in a checkpoint even with weights_only=True: "
            f"upgrade to torch>=2.6 (pip install -U 'torch>=2.6')"
        )


def load_weights(path: str | os.PathLike) -> dict:
    """A state dict from a ``.safetensors`` file, or from a torch pickle read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # torch only when weights are read (see check_torch_version)

        return load_file(str(path))
    check_torch_version()
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeWeights(
            f"{path} holds objects other than tensors, which are never unpickled here: save the weights with "
            f"safetensors (model.save_pretrained) instead ({str(e).splitlines()[0]})"
        ) from None

"""Fill <raw>/<corpus>/ with a corpus's files: from a mirror folder when one is configured
(MTL_CORPORA_MIRROR, files found as MIRROR/<corpus>/<file>), else from the file's public URL.
The sha256 from params.yaml is verified either way; a mismatch is an error naming the file.

A file already in place is never overwritten. The sha256 pins the published source; a local file that
differs from it holds data added or corrected here (new data lands by appending to the raw files, and
DVC versions the result), so it is kept and reported as "modified locally (kept)". To go back to the
published file (or to take a new pin), delete the local file and pull again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mtl.config import CorpusConfig, CorpusFile, Params
from mtl.errors import MtlError

MIRROR_VARIABLE = "MTL_CORPORA_MIRROR"
MODIFIED = "modified locally (kept)"  # present, but not the pinned bytes: local data, never overwritten


class FetchError(MtlError):
    pass


@dataclass(frozen=True)
class Fetched:
    corpus: str
    file: str
    origin: str  # "present", "mirror", "download" or MODIFIED
    path: Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_folder() -> Path | None:
    value = os.environ.get(MIRROR_VARIABLE)
    return Path(value) if value else None


def pull_corpora(params: Params, names: list[str] | None = None) -> list[Fetched]:
    """Pull the named corpora (default: all in params) from the mirror folder or their URLs."""
    unknown = sorted(set(names or []) - set(params.corpora))
    if unknown:
        raise FetchError(f"no corpus named {', '.join(unknown)} in params; known: {', '.join(params.corpora)}")
    mirror = mirror_folder()
    return [
        fetched
        for name in names or list(params.corpora)
        for fetched in pull_corpus(name, params.corpora[name], params.raw_dir, mirror)
    ]


def pull_corpus(name: str, corpus: CorpusConfig, raw_dir: Path, mirror: Path | None = None) -> list[Fetched]:
    """Make <raw_dir>/<name>/ hold every file of the corpus: fetch (and verify) the missing ones."""
    target_dir = raw_dir / name
    target_dir.mkdir(parents=True, exist_ok=True)
    folder = mirror / (corpus.mirror_name or name) if mirror is not None else None
    return [_pull_file(name, file, target_dir, folder) for file in corpus.files.values()]


def _pull_file(corpus: str, file: CorpusFile, target_dir: Path, mirror_folder: Path | None) -> Fetched:
    """mirror_folder: the corpus's folder in the mirror (MIRROR/<mirror_name or corpus>/), None without one."""
    target = target_dir / file.path
    if target.exists():
        return Fetched(corpus, file.path, "present" if sha256_of(target) == file.sha256 else MODIFIED, target)

    if mirror_folder is not None:
        origin, source = "mirror", mirror_folder / file.path
        if not source.is_file():
            raise FetchError(f"{corpus}/{file.path}: not in the mirror folder {mirror_folder.parent} (looked for "
                             f"{source})")
    elif file.url:
        origin, source = "download", file.url
    else:
        raise FetchError(f"{corpus}/{file.path}: no mirror folder ({MIRROR_VARIABLE}) and no url in params")

    # Copy to a temporary name first, so an interrupted or corrupt fetch never leaves a bad file in place.
    with tempfile.NamedTemporaryFile(dir=target_dir, prefix=f".{file.path}.", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        if origin == "mirror":
            shutil.copyfile(source, partial)
        else:
            _download(str(source), partial)
        actual = sha256_of(partial)
        if actual != file.sha256:
            raise FetchError(
                f"{corpus}/{file.path}: sha256 mismatch for the file from {source}: "
                f"expected {file.sha256}, got {actual}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Fetched(corpus, file.path, origin, target)


def _download(url: str, destination: Path, timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, destination.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        raise FetchError(f"download of {url} failed: {error}") from None

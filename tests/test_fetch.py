"""Fetching corpus files: from a mirror folder, from a URL (a real HTTP server on 127.0.0.1), sha256 checks."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from mtl.config import CorpusConfig
from mtl.corpora.fetch import MODIFIED, FetchError, pull_corpus


def corpus_of(data: bytes, url: str | None = None, sha: str | None = None) -> CorpusConfig:
    sha = sha or hashlib.sha256(data).hexdigest()
    return CorpusConfig.model_validate(
        {"task": "question", "format": "label_prefixed", "files": {"train": {"path": "train.label", "sha256": sha, "url": url}}}
    )


DATA = b"HUM:ind Who wrote it ?\nLOC:city Where is it ?\n"


@pytest.fixture
def http_folder(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder; stopped after the test."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pull_from_mirror_verifies_and_copies(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "trec").mkdir(parents=True)
    (mirror / "trec" / "train.label").write_bytes(DATA)
    [fetched] = pull_corpus("trec", corpus_of(DATA), tmp_path / "raw", mirror)
    assert fetched.origin == "mirror"
    assert (tmp_path / "raw" / "trec" / "train.label").read_bytes() == DATA
    [again] = pull_corpus("trec", corpus_of(DATA), tmp_path / "raw", mirror)
    assert again.origin == "present"


def test_sha256_mismatch_names_the_file_and_leaves_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "trec").mkdir(parents=True)
    (mirror / "trec" / "train.label").write_bytes(DATA + b"tampered\n")
    with pytest.raises(FetchError, match=r"trec/train.label: sha256 mismatch"):
        pull_corpus("trec", corpus_of(DATA), tmp_path / "raw", mirror)
    assert list((tmp_path / "raw" / "trec").iterdir()) == []


def test_locally_modified_file_is_kept_and_reported_and_missing_files_still_verified(tmp_path):
    """New data lands by appending to a raw file: pull never overwrites it, and still fills (and checks)
    what is missing."""
    mirror = tmp_path / "mirror"
    (mirror / "trec").mkdir(parents=True)
    (mirror / "trec" / "train.label").write_bytes(DATA)
    raw = tmp_path / "raw"
    pull_corpus("trec", corpus_of(DATA), raw, mirror)
    appended = DATA + b"HUM:ind Who appended this line ?\n"
    (raw / "trec" / "train.label").write_bytes(appended)

    [kept] = pull_corpus("trec", corpus_of(DATA), raw, mirror)
    assert kept.origin == MODIFIED == "modified locally (kept)"
    assert (raw / "trec" / "train.label").read_bytes() == appended

    # Deleting the local file is how to go back to the published one; a corrupt mirror copy is still an error.
    (raw / "trec" / "train.label").unlink()
    (mirror / "trec" / "train.label").write_bytes(b"corrupt\n")
    with pytest.raises(FetchError, match="sha256 mismatch"):
        pull_corpus("trec", corpus_of(DATA), raw, mirror)
    assert not (raw / "trec" / "train.label").exists()


def test_missing_mirror_file_is_a_clear_error(tmp_path):
    with pytest.raises(FetchError, match=r"trec/train.label: not in the mirror folder"):
        pull_corpus("trec", corpus_of(DATA), tmp_path / "raw", tmp_path / "empty-mirror")


def test_download_from_public_url_when_no_mirror(tmp_path, http_folder):
    folder, base = http_folder
    (folder / "train_5500.label").write_bytes(DATA)
    [fetched] = pull_corpus("trec", corpus_of(DATA, url=f"{base}/train_5500.label"), tmp_path / "raw", None)
    assert fetched.origin == "download"
    assert Path(fetched.path).read_bytes() == DATA


def test_download_failure_and_corrupt_download(tmp_path, http_folder):
    folder, base = http_folder
    with pytest.raises(FetchError, match="download of .*/missing.label failed"):
        pull_corpus("trec", corpus_of(DATA, url=f"{base}/missing.label"), tmp_path / "raw", None)
    (folder / "train.label").write_bytes(b"not the published bytes\n")
    with pytest.raises(FetchError, match="sha256 mismatch"):
        pull_corpus("trec", corpus_of(DATA, url=f"{base}/train.label"), tmp_path / "raw", None)

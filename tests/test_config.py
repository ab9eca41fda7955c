"""params.yaml parsing: the default file is valid; typos and bad values are errors naming the key."""

from __future__ import annotations

import pytest
import yaml

from mtl.config import ConfigError, load_params


def test_default_params_parse(default_params):
    assert set(default_params.corpora) == {"ud_english_ewt", "wnut17", "sst2", "trec"}
    assert default_params.corpora["trec"].reader_options("train").encoding == "latin-1"
    # per-file options override the corpus's: SST-2's labelled test file has no header
    assert default_params.corpora["sst2"].reader_options("test").header is False
    assert default_params.corpora["sst2"].reader_options("train").header is True


def write(tmp_path, data) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(validaton={}), "validaton"),  # a typo in a top-level key
        (lambda p: p["validation"].update(max_quarantine_fraction=2), "max_quarantine_fraction"),
        (lambda p: p["corpora"]["trec"]["options"].update(granularty="fine"), "granularty"),
        (lambda p: p["corpora"]["trec"].update(task="questions"), "questions"),
        (lambda p: p["corpora"]["trec"].update(format="xml"), "unknown format"),
        (lambda p: p["corpora"]["trec"]["files"]["train"].update(sha256="abc"), "sha256"),
    ],
)
def test_invalid_params_name_the_key(tmp_path, repo_root, mutate, message):
    data = yaml.safe_load((repo_root / "params.yaml").read_text())
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, data))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")

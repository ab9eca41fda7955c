"""Every file of the four real corpora, read with params.yaml's options: the counts of their SOURCE.md.

Units are also counted independently of the readers, straight from the bytes, so that
read == accepted + quarantined is checked against something other than the reader itself.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mtl.config import Params
from mtl.corpora import label_prefixed
from mtl.corpora.formats import FORMATS
from mtl.records import Record, Rejection

# corpus, split, records, tokens (SOURCE.md; EWT counts words: no multiword ranges, no empty nodes)
EXPECTED = [
    ("ud_english_ewt", "train", 12_544, 204_577),
    ("ud_english_ewt", "dev", 2_001, 25_147),
    ("ud_english_ewt", "test", 2_077, 25_094),
    ("wnut17", "train", 3_394, 62_730),
    ("wnut17", "dev", 1_009, 15_733),
    ("wnut17", "test", 1_287, 23_394),
    ("sst2", "train", 67_349, 633_724),
    ("sst2", "dev", 872, 17_046),
    ("sst2", "test", 1_821, 35_025),
    ("trec", "train", 5_452, None),
    ("trec", "test", 500, None),
]
IDS = [f"{corpus}-{split}" for corpus, split, *_ in EXPECTED]
EWT_UPOS_TRAIN = {
    "NOUN": 34751, "PUNCT": 23596, "VERB": 22576, "PRON": 18677, "ADP": 17742, "DET": 16299, "ADJ": 13137,
    "AUX": 12815, "PROPN": 12620, "ADV": 10167, "CCONJ": 6687, "PART": 5748, "NUM": 4126, "SCONJ": 3819,
    "SYM": 722, "INTJ": 695, "X": 400,
}


@pytest.fixture(scope="module")
def corpora(default_params: Params, shared_corpora: Path) -> dict[tuple[str, str], tuple[Path, list]]:
    """(corpus, split) -> (file, everything its reader yielded); each file is read once per module."""
    read = {}
    for name, corpus in default_params.corpora.items():
        for split, file in corpus.files.items():
            path = shared_corpora / name / file.path
            items = list(
                FORMATS[corpus.format].read(
                    path,
                    corpus.reader_options(split),
                    corpus=name,
                    task=corpus.task,
                    split=split,
                    max_line_bytes=default_params.validation.max_line_bytes,
                )
            )
            read[name, split] = path, items
    return read


def independent_units(path: Path, format: str, header: bool) -> int:
    """How many units the file holds, counted without the readers: blocks of lines, or data lines."""
    lines = path.read_bytes().split(b"\n")
    blank = [not line.strip() or line.startswith(b"-DOCSTART-") for line in lines]
    if format in ("conllu", "conll"):
        return sum(1 for i, is_blank in enumerate(blank) if not is_blank and (i == 0 or blank[i - 1]))
    return blank.count(False) - (1 if header else 0)


def test_every_configured_file_has_expected_counts(corpora: dict) -> None:
    assert set(corpora) == {(corpus, split) for corpus, split, *_ in EXPECTED}


@pytest.mark.parametrize(("corpus", "split", "records", "tokens"), EXPECTED, ids=IDS)
def test_read_equals_accepted_plus_rejected(
    corpora: dict, default_params: Params, corpus: str, split: str, records: int, tokens: int | None
) -> None:
    path, items = corpora[corpus, split]
    config = default_params.corpora[corpus]
    header = bool(getattr(config.reader_options(split), "header", False))
    accepted = [r for r in items if isinstance(r, Record)]
    rejected = [r for r in items if isinstance(r, Rejection)]
    assert len(accepted) + len(rejected) == len(items) == independent_units(path, config.format, header)
    assert rejected == []
    assert len(accepted) == records
    if tokens is not None:
        assert sum(len(r.tokens) for r in accepted) == tokens
    assert len({r.uid for r in accepted}) == len({r.source for r in accepted}) == records


def test_ewt_upos_counts(corpora: dict) -> None:
    _, items = corpora["ud_english_ewt", "train"]
    assert Counter(tag for r in items for tag in r.tags) == EWT_UPOS_TRAIN


@pytest.mark.parametrize(("split", "entities"), [("train", 1_975), ("dev", 836), ("test", 1_079)])
def test_wnut_tokens_and_entities(corpora: dict, split: str, entities: int) -> None:
    _, items = corpora["wnut17", split]
    assert all(token and tag for r in items for token, tag in zip(r.tokens, r.tags, strict=True))
    assert all(len(r.tokens) == len(r.tags) for r in items)
    assert sum(tag.startswith("B-") for r in items for tag in r.tags) == entities


def test_wnut_train_tag_counts(corpora: dict) -> None:
    _, items = corpora["wnut17", "train"]
    counts = Counter(tag for r in items for tag in r.tags)
    assert counts["O"] == 59_570 and counts["B-person"] == 660 and counts["I-creative-work"] == 206
    assert len(counts) == 13


@pytest.mark.parametrize(
    ("corpus", "split", "labels"),
    [
        ("sst2", "train", {"0": 29_780, "1": 37_569}),
        ("sst2", "dev", {"0": 428, "1": 444}),
        ("sst2", "test", {"0": 912, "1": 909}),
        ("trec", "train", {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}),
        ("trec", "test", {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}),
    ],
)
def test_label_counts(corpora: dict, corpus: str, split: str, labels: dict[str, int]) -> None:
    _, items = corpora[corpus, split]
    assert Counter(r.label for r in items) == labels
    assert all(r.tags == [] for r in items)


def test_trec_line_66_is_latin1(corpora: dict) -> None:
    path, items = corpora["trec", "train"]
    (line_66,) = [r for r in items if r.source == f"trec/{path.name}:66"]
    assert "sister\u00f0city" in line_66.tokens
    assert line_66.label == "LOC"


def test_trec_train_read_as_utf8_rejects_line_66_only(corpora: dict) -> None:
    path, _ = corpora["trec", "train"]
    items = list(label_prefixed.read(path, label_prefixed.Options(), corpus="trec", task="question", split="train"))
    rejected = [r for r in items if isinstance(r, Rejection)]
    assert len(items) == 5_452
    assert [(r.source, r.reason) for r in rejected] == [
        (f"trec/{path.name}:66", "invalid utf-8 byte 0xF0 at column 60")
    ]


def test_trec_fine_labels(corpora: dict) -> None:
    path, _ = corpora["trec", "train"]
    options = label_prefixed.Options(encoding="latin-1", granularity="fine")
    labels = {r.label for r in label_prefixed.read(path, options, corpus="trec", task="question", split="train")}
    assert len(labels) == 50

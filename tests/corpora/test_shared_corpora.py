"""Every file of the real corpora, read with params.yaml's options: the counts of their SOURCE.md.

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
from mtl.corpora.lines import Header
from mtl.records import Record, Rejection

# corpus, file key, records, tokens (SOURCE.md; EWT counts words: no multiword ranges, no empty nodes)
EXPECTED = [
    ("ud_english_ewt", "train", 12_544, 204_577),
    ("ud_english_ewt", "dev", 2_001, 25_147),
    ("ud_english_ewt", "test", 2_077, 25_094),
    ("wnut17", "train", 3_394, 62_730),
    ("wnut17", "dev", 1_009, 15_730),  # SOURCE.md: 15,733; 3 are in the sentence refused for a BOM
    ("wnut17", "test", 1_287, 23_394),
    ("sst2", "train", 67_349, 633_724),
    ("sst2", "dev", 872, 17_046),
    ("sst2", "test", 1_821, 35_025),
    ("trec", "train", 5_452, None),
    ("trec", "test", 500, None),
    ("sick_entailment", "all", 9_840, None),  # one file, three splits (test_sick.py)
    ("sick_relatedness", "all", 9_840, None),
]
IDS = [f"{corpus}-{split}" for corpus, split, *_ in EXPECTED]
# the readers' rejections: (corpus, file key) -> [(source, key)]
REJECTED = {("wnut17", "dev"): [("wnut17/emerging.dev.conll:16728", "byte_order_mark")]}
EWT_UPOS_TRAIN = {
    "NOUN": 34751, "PUNCT": 23596, "VERB": 22576, "PRON": 18677, "ADP": 17742, "DET": 16299, "ADJ": 13137,
    "AUX": 12815, "PROPN": 12620, "ADV": 10167, "CCONJ": 6687, "PART": 5748, "NUM": 4126, "SCONJ": 3819,
    "SYM": 722, "INTJ": 695, "X": 400,
}


@pytest.fixture(scope="module")
def corpora(default_params: Params, shared_corpora: Path) -> dict[tuple[str, str], tuple[Path, list]]:
    """(corpus, file key) -> (file, every unit its reader yielded; a header line is not one); each file is read
    once per module."""
    read = {}
    for name, corpus in default_params.corpora.items():
        for split, file in corpus.files.items():
            path = shared_corpora / (corpus.mirror_name or name) / file.path
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
            read[name, split] = path, [item for item in items if not isinstance(item, Header)]
    return read


def independent_units(path: Path, format: str, header: bool) -> int:
    """How many units the file holds, counted without the readers: blocks of lines, or data lines (a line ends
    in LF; CRLF's CR is whitespace to strip())."""
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
    assert [(r.source, r.key) for r in rejected] == REJECTED.get((corpus, split), [])
    assert len(accepted) + len(rejected) == records
    if tokens is not None:
        assert sum(len(r.tokens) for r in accepted) == tokens
    assert len({r.uid for r in accepted}) == len({r.source for r in accepted}) == len(accepted)


def test_ewt_upos_counts(corpora: dict) -> None:
    _, items = corpora["ud_english_ewt", "train"]
    assert Counter(tag for r in items for tag in r.fields["tags"]) == EWT_UPOS_TRAIN


@pytest.mark.parametrize(("split", "entities"), [("train", 1_975), ("dev", 835), ("test", 1_079)])
def test_wnut_tokens_and_entities(corpora: dict, split: str, entities: int) -> None:
    """dev has 836 entities in SOURCE.md: one is in the sentence the BOM inside "Dubbz\ufeff" refuses."""
    _, items = corpora["wnut17", split]
    records = [r for r in items if isinstance(r, Record)]
    assert all(token and tag for r in records for token, tag in zip(r.tokens, r.fields["tags"], strict=True))
    assert all(len(r.tokens) == len(r.fields["tags"]) for r in records)
    assert sum(tag.startswith("B-") for r in records for tag in r.fields["tags"]) == entities


def test_wnut_dev_holds_one_byte_order_mark_inside_a_token(corpora: dict) -> None:
    path, items = corpora["wnut17", "dev"]
    (rejection,) = [r for r in items if isinstance(r, Rejection)]
    assert rejection.reason.startswith("line 16730: byte order mark (EF BB BF) at column 6")
    assert "Dubbz\ufeff\tB-person" in rejection.raw


def test_wnut_train_tag_counts(corpora: dict) -> None:
    _, items = corpora["wnut17", "train"]
    counts = Counter(tag for r in items for tag in r.fields["tags"])
    assert counts["O"] == 59_570 and counts["B-person"] == 660 and counts["I-creative-work"] == 206
    assert len(counts) == 13


@pytest.mark.parametrize(
    ("corpus", "split", "labels"),
    [
        ("sst2", "train", {"negative": 29_780, "positive": 37_569}),
        ("sst2", "dev", {"negative": 428, "positive": 444}),
        ("sst2", "test", {"negative": 912, "positive": 909}),
        ("trec", "train", {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}),
        ("trec", "test", {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}),
    ],
)
def test_label_counts(corpora: dict, corpus: str, split: str, labels: dict[str, int]) -> None:
    _, items = corpora[corpus, split]
    assert Counter(r.fields["label"] for r in items) == labels
    assert all(set(r.fields) == {"tokens", "label"} for r in items)


def test_trec_line_66_is_latin1(corpora: dict) -> None:
    path, items = corpora["trec", "train"]
    (line_66,) = [r for r in items if r.source == f"trec/{path.name}:66"]
    assert "sister\u00f0city" in line_66.tokens
    assert line_66.fields["label"] == "LOC"


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
    labels = {r.fields["label"] for r in label_prefixed.read(path, options, corpus="trec", task="question",
                                                            split="train")}
    assert len(labels) == 50

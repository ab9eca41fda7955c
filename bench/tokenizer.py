"""How raw text is split, measured on EWT: exact agreement with the gold words, and UPOS from raw text.

    python bench/tokenizer.py [--model FOLDER] [--split test]

For each tokenizer (whitespace, wordpunct, treebank), on the `# text =` line of every EWT sentence:
the share of sentences whose tokens equal the gold words exactly; with a model, the UPOS accuracy from
raw text: a gold word counts as right when the tokenizer produced a token with exactly its characters at
its place and the model tagged it with the gold tag (a word the tokenizer split or merged wrongly counts
as wrong). The first row, the model tagging the gold words themselves, is the ceiling. Without --model,
runs/candidate/model is used when it exists.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtl.corpora import conllu  # noqa: E402
from mtl.corpora.tokenize import TOKENIZERS  # noqa: E402
from mtl.records import Record  # noqa: E402

MIRROR = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora"))


def ewt_sentences(split: str) -> list[tuple[str, list[str], list[str]]]:
    """(text, gold words, gold UPOS) per sentence of EWT's split, read by mtl's own CoNLL-U reader."""
    path = MIRROR / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu"
    sentences = []
    records = conllu.read(path, conllu.Options(tag_column="upos"), corpus="ud_english_ewt", task="pos", split=split)
    for record in records:
        if isinstance(record, Record):
            text = next(line[len("# text = "):] for line in record.raw.splitlines() if line.startswith("# text = "))
            sentences.append((text, record.tokens, record.fields["tags"]))
    return sentences


def spans(text: str, tokens: list[str]) -> list[tuple[int, int] | None]:
    """Each token's (start, end) in text, found left to right; None where a token is not in the text."""
    found, at = [], 0
    for token in tokens:
        start = text.find(token, at)
        if start < 0:
            found.append(None)
            continue
        found.append((start, start + len(token)))
        at = start + len(token)
    return found


def raw_text_accuracy(text: str, gold: list[str], gold_tags: list[str], tokens: list[str], tags: list[str]) -> int:
    """Gold words tagged right from raw text: same characters at the same place, same tag."""
    predicted = {span: tag for span, tag in zip(spans(text, tokens), tags) if span is not None}
    return sum(predicted.get(span) == tag for span, tag in zip(spans(text, gold), gold_tags) if span is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "runs" / "candidate" / "model")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    sentences = ewt_sentences(args.split)
    words = sum(len(gold) for _, gold, _ in sentences)
    predictor = None
    if (args.model / "config.json").is_file():
        import mtl

        predictor = mtl.load(args.model)
        print(f"model {args.model} ({predictor.precision}); EWT {args.split}: "
              f"{len(sentences)} sentences, {words} words")
        gold_tags = predictor.predict([gold for _, gold, _ in sentences], tasks=["pos"])
        right = sum(p == g for row, (_, _, tags) in zip(gold_tags, sentences) for p, g in zip(row["pos"], tags))
        print(f"{'gold words (ceiling)':>22}  exact 100.00%  UPOS {right / words:.2%}")
    else:
        print(f"no model at {args.model}: agreement only. EWT {args.split}: {len(sentences)} sentences")
    for name, tokenize in TOKENIZERS.items():
        started = time.perf_counter()
        tokens = [tokenize(text) for text, _, _ in sentences]
        seconds = time.perf_counter() - started
        exact = sum(t == gold for t, (_, gold, _) in zip(tokens, sentences)) / len(sentences)
        line = f"{name:>22}  exact {exact:.2%} ({seconds * 1000:.0f} ms)"
        if predictor is not None:
            tags = predictor.predict(tokens, tasks=["pos"])
            right = sum(raw_text_accuracy(text, gold, gold_tags, toks, row["pos"])
                        for (text, gold, gold_tags), toks, row in zip(sentences, tokens, tags))
            line += f"  UPOS from raw text {right / words:.2%}"
        print(line)


if __name__ == "__main__":
    main()

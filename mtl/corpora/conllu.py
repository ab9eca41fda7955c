"""CoNLL-U (Universal Dependencies): one sentence per block of lines, blocks separated by blank lines.

A block is its comment lines (`# sent_id = ...`, `# text = ...`) followed by one line per token with
10 TAB-separated columns: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC. Only lines with an
integer ID are words. Multiword-token ranges ("19-20 don't") and empty nodes ("8.1") are skipped:
the range's parts follow it as words, and an empty node is not in the surface sentence. A range must come
just before its first word, span two words or more, stay clear of the previous range and end at a word of the
sentence; otherwise the block is refused (key "bad_range").
A block with any bad line is rejected whole, naming the first bad line: half a sentence is no sentence.
https://universaldependencies.org/format.html
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

from mtl.corpora.lines import Problem, ReaderOptions, iter_lines, reject
from mtl.records import Record, Rejection, make_uid, source_of

COLUMNS = 10
TAG_INDEX = {"upos": 3, "xpos": 4}


class Options(ReaderOptions):
    tag_column: Literal["upos", "xpos"] = "upos"


def read(
    path: Path,
    options: Options,
    *,
    corpus: str,
    task: str,
    split: str,
    max_line_bytes: int = 1_000_000,
) -> Iterator[Record | Rejection]:
    tag_index = TAG_INDEX[options.tag_column]
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus, split=split)

    # The block being read. start == 0 means "between blocks".
    start = 0
    raw: list[str] = []
    tokens: list[str] = []
    tags: list[str] = []
    in_tokens = False  # a token line has been seen: comments must come before it
    problem: Problem | None = None  # why the block will be rejected; the first problem found is the one reported
    last_range: Range | None = None  # the block's latest multiword range

    for number, text in lines:
        if text.__class__ is not str:  # a Rejection: this line could not be read, so neither can its block
            start = start or number
            raw.append(text.raw)
            problem = problem or Problem(text.key, f"line {number}: {text.reason}")
            continue
        if not text or text.isspace():
            if start:
                problem = problem or _overrun(last_range, len(tokens))
                yield _sentence(path, start, raw, tokens, tags, problem, corpus=corpus, task=task, split=split)
                start, raw, tokens, tags, in_tokens, problem, last_range = 0, [], [], [], False, None, None
            continue
        start = start or number
        raw.append(text)
        if problem:  # the block is lost already; keep its raw text for the quarantine
            continue
        if text[0] == "#":
            if in_tokens:
                problem = Problem("misplaced_comment", f"line {number}: comment line after the first token line")
            continue
        in_tokens = True
        columns = text.split("\t")
        if len(columns) != COLUMNS:
            problem = Problem("column_count",
                              f"line {number}: expected {COLUMNS} tab-separated columns, found {len(columns)}")
            continue
        word_id = columns[0]
        if word_id.isdecimal():
            if int(word_id) != len(tokens) + 1:
                problem = Problem("bad_word_id",
                                  f"line {number}: word id {word_id} out of sequence, expected {len(tokens) + 1}")
            elif not columns[1] or not columns[tag_index]:
                problem = Problem("empty_field", f"line {number}: empty FORM or {options.tag_column.upper()} column")
            else:
                tokens.append(columns[1])
                tags.append(columns[tag_index])
        elif _is_pair(word_id, "-"):
            problem = _misplaced_range(number, word_id, len(tokens), last_range)
            last_range = Range(number, word_id, int(word_id.partition("-")[2]))
        elif not _is_pair(word_id, "."):
            problem = Problem("bad_word_id", f"line {number}: id {word_id!r} is not an integer, a range (1-2) or an "
                                             "empty node (1.1)")
    if start:  # the file did not end with a blank line
        problem = problem or _overrun(last_range, len(tokens))
        yield _sentence(path, start, raw, tokens, tags, problem, corpus=corpus, task=task, split=split)


def _sentence(
    path: Path,
    start: int,
    raw: list[str],
    tokens: list[str],
    tags: list[str],
    problem: Problem | None,
    *,
    corpus: str,
    task: str,
    split: str,
) -> Record | Rejection:
    text = "\n".join(raw)
    if problem:
        return reject(corpus, path, start, split, text, problem)
    if not tokens:
        return reject(corpus, path, start, split, text, Problem("empty", "sentence has no words"))
    return Record(
        uid=make_uid(corpus, split, f"{path.name}:{start}"),
        task=task,
        split=split,
        fields={"tokens": tokens, "tags": tags},
        source=source_of(corpus, path.name, start),
        raw=text,
    )


class Range(NamedTuple):
    line: int
    text: str  # "2-3"
    last: int  # its last word


def _misplaced_range(number: int, word_id: str, words: int, previous: Range | None) -> Problem | None:
    """Why a range line cannot stand where it is, after `words` words and the range `previous`, or None."""
    first, last = (int(part) for part in word_id.split("-"))
    if last <= first:
        return Problem("bad_range", f"line {number}: range {word_id} must span two words or more")
    if previous and first <= previous.last:
        return Problem("bad_range", f"line {number}: range {word_id} overlaps the range {previous.text} "
                                    f"(line {previous.line})")
    if first != words + 1:
        return Problem("bad_range", f"line {number}: range {word_id} does not start at the next word, {words + 1}")
    return None


def _overrun(last_range: Range | None, words: int) -> Problem | None:
    """A sentence's last range must end at one of its words."""
    if words and last_range and last_range.last > words:  # no words at all: "sentence has no words" says more
        return Problem("bad_range", f"line {last_range.line}: range {last_range.text} runs past the sentence's "
                                    f"last word, {words}")
    return None


def _is_pair(word_id: str, mark: str) -> bool:
    """A range ("2-3", mark "-") or an empty node ("8.1", mark ".")."""
    first, found, second = word_id.partition(mark)
    return bool(found) and first.isdecimal() and second.isdecimal()

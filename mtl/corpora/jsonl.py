"""JSON Lines: one JSON object per line, for any task kind.

Tagging:        {"tokens": ["New", "York"], "tags": ["B-location", "I-location"]}
Classification: {"text": "a raw sentence", "label": "positive"}  (the text is tokenized)
Pairs, scores:  {"text": "A man plays.", "text_b": "Someone plays.", "label": 4.5}
Tokens come from the tokens field when present, else from the text field (likewise a pair's second text);
tags and label are passed on when present, and the task's kind says which it needs. A numeric label is read
as its decimal string ({"label": 1} is "1", 4.5 is "4.5"). `extra_fields` are passed on as they are, for
kinds whose fields are none of these. Blank lines hold no data and are not records. A line nested deeper than
MAX_DEPTH arrays and objects is refused before it is parsed: the parser's own limit is the interpreter's recursion
limit, which other libraries in the process raise (torch.compile sets it to at least 2,000), so a line refused
in one process would be read in another. What strings hold (a "\u0000" or "\ud800" escape) is
validation's to judge, not the reader's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

from mtl.corpora.lines import Problem, ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import Tokenizer, TokenizerName, get_tokenizer
from mtl.records import Record, Rejection, make_uid, source_of

MAX_DEPTH = 100  # a record is an object of texts, tags and labels: a few levels; far below any recursion limit
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a JSON string literal: brackets inside one do not nest
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


class Options(ReaderOptions):
    tokens_field: str = "tokens"
    text_field: str = "text"
    tokens_b_field: str = "tokens_b"  # a pair's second text, as tokens ...
    text_b_field: str = "text_b"  # ... or as raw text
    tags_field: str = "tags"
    label_field: str = "label"
    extra_fields: list[str] = []  # JSON fields passed on unchanged, under their own names
    tokenizer: TokenizerName = "wordpunct"


def read(
    path: Path,
    options: Options,
    *,
    corpus: str,
    task: str,
    split: str,
    max_line_bytes: int = 1_000_000,
) -> Iterator[Record | Rejection]:
    tokenize = get_tokenizer(options.tokenizer)
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus, split=split)
    for number, text in lines:
        if text.__class__ is not str:
            yield text
            continue
        if not text or text.isspace():
            continue
        try:
            fields = _fields(text, options, tokenize)
        except ValueError as problem:  # json.JSONDecodeError is a ValueError too
            yield reject(corpus, path, number, split, text, Problem("bad_json", str(problem)))
            continue
        yield Record(
            uid=make_uid(corpus, split, f"{path.name}:{number}"),
            task=task,
            split=split,
            fields=fields,
            source=source_of(corpus, path.name, number),
            raw=text,
        )


def _fields(text: str, options: Options, tokenize: Tokenizer) -> dict[str, Any]:
    """The record fields of one line; a ValueError names what is wrong."""
    if _nesting_exceeds(text, MAX_DEPTH):
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} arrays or objects")
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, found {_json_type(item)}")

    fields: dict[str, Any] = {"tokens": _text(item, options.tokens_field, options.text_field, tokenize)}
    if options.tokens_b_field in item or options.text_b_field in item:
        fields["tokens_b"] = _text(item, options.tokens_b_field, options.text_b_field, tokenize)
    if options.tags_field in item:
        fields["tags"] = _strings(item[options.tags_field], options.tags_field)
    if options.label_field in item:
        fields["label"] = _label(item[options.label_field], options.label_field)
    for name in options.extra_fields:
        if name in item:
            fields[name] = item[name]
    return fields


def _nesting_exceeds(text: str, limit: int) -> bool:
    """Whether the line's arrays and objects nest deeper than `limit` (brackets inside strings not counted)."""
    if text.count("[") + text.count("{") <= limit:  # nearly every line: it cannot nest deeper than it opens
        return False
    return max(accumulate(_NESTING.get(c, 0) for c in _STRING.sub('""', text)), default=0) > limit


def _text(item: dict, tokens_field: str, text_field: str, tokenize: Tokenizer) -> list[str]:
    """A text's tokens: the tokens field as given, else the text field tokenized."""
    if tokens_field in item:
        return _strings(item[tokens_field], tokens_field)
    if text_field not in item:
        raise ValueError(f"missing field {tokens_field!r} or {text_field!r}")
    words = item[text_field]
    if not isinstance(words, str):
        raise ValueError(f"field {text_field!r} must be a string, found {_json_type(words)}")
    tokens = tokenize(words)
    if not tokens:
        raise ValueError(f"field {text_field!r} holds no tokens")
    return tokens


def _label(value: Any, name: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {name!r} must be a non-empty string or a number, found {_json_type(value)}")
    return value.strip()


def _strings(value: object, name: str) -> list[str]:
    """A non-empty JSON list of non-empty strings, or a ValueError saying how it is not."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"field {name!r} must be a non-empty list of strings, found {_json_type(value)}")
    for position, element in enumerate(value):
        if not isinstance(element, str) or not element:
            raise ValueError(f"field {name!r}: item {position} must be a non-empty string, found {_json_type(element)}")
    return value


def _json_type(value: object) -> str:
    """How a decoded JSON value reads in a message: its JSON type, saying so when it is empty."""
    if isinstance(value, str) and not value.strip():
        return "an empty string"
    if value == []:
        return "an empty array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names = {dict: "an object", list: "an array", str: "a string"}
    return "null" if value is None else names.get(type(value), type(value).__name__)

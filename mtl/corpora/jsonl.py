"""JSON Lines: one JSON object per line, for tagging or for classification.

Tagging:        {"tokens": ["New", "York"], "tags": ["B-location", "I-location"]}
Classification: {"text": "a raw sentence", "label": "positive"}  (the text is tokenized)
Tokens come from the tokens field when present, else from the text field; the record is a tagging one
when it has tags, a classification one when it has a label, and never both. An integer label is read
as its decimal string ({"label": 1} is "1"). Blank lines hold no data and are not records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mtl.corpora.lines import ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import Tokenizer, TokenizerName, get_tokenizer
from mtl.records import Record, Rejection, make_uid, source_of


class Options(ReaderOptions):
    tokens_field: str = "tokens"
    tags_field: str = "tags"
    text_field: str = "text"
    label_field: str = "label"
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
            tokens, tags, label = _fields(text, options, tokenize)
        except ValueError as problem:  # json.JSONDecodeError is a ValueError too
            yield reject(corpus, path, number, split, text, str(problem))
            continue
        yield Record(
            uid=make_uid(corpus, split, f"{path.name}:{number}"),
            task=task,
            split=split,
            tokens=tokens,
            tags=tags,
            label=label,
            source=source_of(corpus, path.name, number),
            raw=text,
        )


def _fields(
    text: str, options: Options, tokenize: Tokenizer
) -> tuple[list[str], list[str], str | None]:
    """(tokens, tags, label) of one line; a ValueError names what is wrong."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, found {_json_type(item)}")

    if options.tokens_field in item:
        tokens = _strings(item[options.tokens_field], options.tokens_field)
    elif options.text_field in item:
        words = item[options.text_field]
        if not isinstance(words, str):
            raise ValueError(f"field {options.text_field!r} must be a string, found {_json_type(words)}")
        tokens = tokenize(words)
        if not tokens:
            raise ValueError(f"field {options.text_field!r} holds no tokens")
    else:
        raise ValueError(f"missing field {options.tokens_field!r} or {options.text_field!r}")

    has_tags, has_label = options.tags_field in item, options.label_field in item
    if has_tags == has_label:
        state = "both" if has_tags else "neither"
        raise ValueError(f"expected one of the fields {options.tags_field!r} or {options.label_field!r}, found {state}")
    if has_tags:
        tags = _strings(item[options.tags_field], options.tags_field)
        if len(tags) != len(tokens):
            raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
        return tokens, tags, None
    label = item[options.label_field]
    if isinstance(label, int) and not isinstance(label, bool):
        label = str(label)
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"field {options.label_field!r} must be a non-empty string, found {_json_type(label)}")
    return tokens, [], label.strip()


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

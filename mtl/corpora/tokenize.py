"""Tokenizers for raw text, chosen by name in a reader's options.

"whitespace" suits text that is already tokenized (SST-2, TREC: PTB-style, space-separated).
"wordpunct" splits runs of word characters from runs of punctuation, for raw text.
A new tokenizer is one name in `TokenizerName` and one entry in `get_tokenizer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

TokenizerName = Literal["whitespace", "wordpunct"]
Tokenizer = Callable[[str], list[str]]

WORDPUNCT = r"\w+|[^\w\s]+"


def get_tokenizer(name: TokenizerName) -> Tokenizer:
    """The tokenizer called `name`: a function from text to its list of tokens."""
    if name == "whitespace":
        return str.split
    if name == "wordpunct":
        return re.compile(WORDPUNCT).findall
    raise ValueError(f"unknown tokenizer {name!r}; known: whitespace, wordpunct")

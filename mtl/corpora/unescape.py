"""Undoing the escapes scraped text carries, as options of a reader (off unless asked for).

HTML entities: `&#39;` -> ', `&quot;` -> ", `&amp;` -> &, and the broken numeric form news feeds are full of,
an entity that lost its "&" (`company #39;s`), when the number is a printable character. Backslash escapes:
`\\n`, `\\t` and `\\r` become a space (the text is tokenized next, so a line break is a word break), any
other `\\x` becomes x (`\\"` -> ", `\\\\` -> \\); a backslash that ends the text stays.
"""

from __future__ import annotations

import html
import re

BROKEN_NUMERIC = re.compile(r"(?<!&)#(\d{1,7});")  # "#39;" without its "&"
BACKSLASHED = re.compile(r"\\(.)", re.DOTALL)
WHITESPACE_ESCAPES = frozenset("ntr")


def unescape_html(text: str) -> str:
    return html.unescape(BROKEN_NUMERIC.sub(_restore_ampersand, text))


def _restore_ampersand(match: re.Match[str]) -> str:
    code = int(match.group(1))
    # "#1;" in "We're #1; ..." is a ranking, not a control character: only printable code points are entities
    character = chr(code) if 32 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\0"
    return "&" + match.group() if character.isprintable() or character.isspace() else match.group()


def unescape_backslashes(text: str) -> str:
    return BACKSLASHED.sub(lambda match: " " if match.group(1) in WHITESPACE_ESCAPES else match.group(1), text)

"""Characters no record may hold, in any of its strings (texts, tags, labels).

Control characters (C0, but tab) are never text: a NUL in a token is a broken file or a broken scraper. A
U+FEFF inside a string is a byte order mark that lost its place (files joined together) and makes "DESC"
and "\ufeffDESC" two labels that print alike. A lone surrogate (U+D800-U+DFFF alone, which only a JSON escape
such as "\\ud800" can produce) is not a character at all: UTF-8 cannot encode it, so the Parquet write of
an accepted record would fail. Each becomes a column of the record frame holding where the first one is
("" for a clean record), and an expectation that it is "".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

BAD = re.compile("[\x00-\x08\x0a-\x1f\ufeff\ud800-\udfff]")
CHARACTER_CHECKS = {  # quarantine key (and the record frame's column) -> reason
    "control_character": "control character {value}",
    "byte_order_mark": "byte order mark (U+FEFF) {value}",
    "lone_surrogate": "lone surrogate {value}: not encodable as UTF-8",
}
SHOWN = 40  # characters of the offending string shown in a reason


def kind_of(character: str) -> str:
    if character == "\ufeff":
        return "byte_order_mark"
    return "lone_surrogate" if "\ud800" <= character <= "\udfff" else "control_character"


def has_bad_characters(text: str) -> bool:
    return BAD.search(text) is not None


def bad_characters(fields: dict[str, Any]) -> dict[str, str]:
    """kind -> where its first character is in a record's fields ("U+0000 in tokens[2] 'a\\x00b'"), for each
    kind found; {} for a clean record (the common case, found with one regex search per field)."""
    found: dict[str, str] = {}
    for name, value in fields.items():
        strings = list(_strings(value, name))
        if not strings or not BAD.search("\t".join(text for _, text in strings)):  # tab is allowed: no false hits
            continue
        for where, text in strings:
            for match in BAD.finditer(text):
                kind = kind_of(match.group())
                if kind not in found:
                    shown = ascii(text[:SHOWN]) + ("..." if len(text) > SHOWN else "")
                    place = where if len(where) <= SHOWN else where[:SHOWN] + "..."
                    found[kind] = f"U+{ord(match.group()):04X} in {place} {shown}"
    return found


def escape_surrogates(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with every lone surrogate in their strings (and lists of strings) written as its escape
    ("\\ud800"), for the record frame: pandas and Arrow cannot hold the character itself."""
    return {name: _escaped(value) for name, value in fields.items()}


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    return value


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, string) for every string in a field's value: a string, or lists and dicts of them however deep
    (walked with a stack: a JSON field nested 900 deep must not hit the recursion limit)."""
    stack = [(where, value)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                stack.append((f"{where}[{ascii(key)}]", item))
                stack.append((f"{where} key", key))

"""The quarantine: every refused unit of input, kept with its source, raw text, reason and the reason's key.

A reason is detailed text ("tag outside the label set: B-alien", "line 17: invalid utf-8 byte 0xFF at
column 3"); its key is the short stable category ("unknown_label", "decode_error") the reader, the task kind
or the expectation that refused it gave, so counts aggregate across files and runs in the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mtl.records import Rejection

FIELDS = ("source", "split", "uid", "key", "reason", "raw")


def write_quarantine(path: str | Path, rejections: Iterable[Rejection]) -> int:
    """Write one JSON object per line: {source, split, uid, key, reason, raw}. Returns the number written.
    (`mtl ingest` appends each chunk's lines to the open file as it goes: quarantine_line.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as file:
        for rejection in rejections:
            file.write(quarantine_line(rejection))
            count += 1
    return count


def quarantine_line(rejection: Rejection) -> bytes:
    """One entry, newline included. Text is written as itself (ensure_ascii=False), so a person reads "naïve",
    not "na\\u00efve"; an entry that UTF-8 cannot encode (a lone surrogate a JSON escape put in a label, then in a
    reason) is written with JSON escapes instead, which read back to the very same strings."""
    entry = {name: getattr(rejection, name) for name in FIELDS}
    try:
        return json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(entry).encode("ascii") + b"\n"


def read_quarantine(path: str | Path) -> list[Rejection]:
    """The rejections a quarantine file holds, as write_quarantine wrote them."""
    with Path(path).open(encoding="utf-8") as file:
        return [Rejection(**json.loads(line)) for line in file if line.strip()]

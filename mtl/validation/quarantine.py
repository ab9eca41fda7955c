"""The quarantine: every refused unit of input, kept with its source, raw text and reason.

A reason is detailed text ("tag outside the label set: B-alien", "line 17: invalid utf-8 byte 0xFF at
column 3"); `reason_category` maps it to a short stable key ("unknown_label", "decode_error") so that
counts aggregate across files and runs in the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from mtl.records import Rejection

FIELDS = ("source", "split", "uid", "reason", "raw")

# (pattern, key), first match wins; searched in the reason after any leading "line N: ".
# The validation suite's reasons come first, then the readers' (mtl/corpora).
CATEGORIES: tuple[tuple[str, str], ...] = (
    (r"^empty: no tokens|has no words", "empty"),
    (r"^too short", "too_short"),
    (r"^too long", "too_long"),
    (r"^blank token", "blank_token"),
    (r"^duplicate uid", "duplicate_uid"),
    (r"^n_tags != n_tokens", "n_tags_mismatch"),
    (r"outside the label set", "unknown_label"),
    (r"^no label", "missing_label"),
    (r"invalid [\w-]+ byte|decod", "decode_error"),
    (r"exceeds max_line_bytes", "line_too_long"),
    (r"columns?, found", "column_count"),
    (r"^empty ", "empty_field"),
    (r"out of sequence|is not an integer", "bad_word_id"),
    (r"comment line", "misplaced_comment"),
)
_LINE_PREFIX = re.compile(r"^line \d+: ")


def reason_category(reason: str) -> str:
    """A short stable key for a reason; an unknown reason gets a slug of its first words."""
    text = _LINE_PREFIX.sub("", reason)
    for pattern, key in CATEGORIES:
        if re.search(pattern, text):
            return key
    head = text.split(":", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "_", head.lower()).strip("_")
    return "_".join(slug.split("_")[:4]) or "other"


def write_quarantine(path: str | Path, rejections: Iterable[Rejection]) -> int:
    """Write one JSON object per line: {source, split, uid, reason, raw}. Returns the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as file:
        for rejection in rejections:
            entry = {name: getattr(rejection, name) for name in FIELDS}
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_quarantine(path: str | Path) -> list[Rejection]:
    """The rejections a quarantine file holds, as write_quarantine wrote them."""
    with Path(path).open(encoding="utf-8") as file:
        return [Rejection(**json.loads(line)) for line in file if line.strip()]

"""Extra evaluation sets: corpora scored beside dev and test and never trained on (params `evaluation.extra`).

An extra set is declared under `corpora` like any corpus (a test or dev file is enough) and ingested like one;
its labels are first mapped onto its task's (`relabel`), so another NER scheme's PER/LOC/ORG/MISC become the
task's entity types. Unify writes its accepted records to <unified>/<extra>/<corpus>.parquet, out of the
train/dev/test tables (and out of the label vocabularies), and the evaluate stage scores each set whole.
"""

from __future__ import annotations

import re

from mtl.records import Record, Rejection

_PREFIXED = re.compile(r"^([BIESLU])-(.+)$")  # a BIO/BIOES tag: its position and its entity type
NO_COUNTERPART = "no_counterpart"


def relabel(records: list[Record], mapping: dict[str, str | None], corpus: str
            ) -> tuple[list[Record], list[Rejection]]:
    """Map each record's tags and label through `mapping`: (records kept, records refused).

    A key names a tag or label as the corpus writes it, or an entity type of its prefixed tags (PER maps B-PER
    and I-PER). None means no counterpart: an entity type becomes O (the span is not an entity of the task);
    a whole tag or a label refuses its record, with reason key "no_counterpart", so that it is counted and
    shown in the quarantine, never silently dropped. Tags and labels the mapping does not name stay as they
    are (validation then checks them against the task's label set)."""
    if not mapping:
        return records, []
    kept, refused = [], []
    for record in records:
        fields = dict(record.fields)
        try:
            if fields.get("tags") is not None:
                fields["tags"] = [_tag(tag, mapping) for tag in fields["tags"]]
            if fields.get("label") is not None and str(fields["label"]) in mapping:
                fields["label"] = _required(str(fields["label"]), mapping)
        except LookupError as missing:
            refused.append(Rejection(record.source, record.split, record.raw,
                                     f"{missing.args[0]!r} has no counterpart in the task "
                                     f"(evaluation.extra.{corpus}.labels maps it to null)", record.uid, NO_COUNTERPART))
            continue
        kept.append(Record(record.uid, record.task, record.split, fields, record.source, record.raw))
    return kept, refused


def _tag(tag: str, mapping: dict[str, str | None]) -> str:
    if tag in mapping:
        return _required(tag, mapping)
    prefixed = _PREFIXED.match(tag)
    if prefixed and prefixed.group(2) in mapping:
        target = mapping[prefixed.group(2)]
        return "O" if target is None else f"{prefixed.group(1)}-{target}"
    return tag


def _required(value: str, mapping: dict[str, str | None]) -> str:
    target = mapping[value]
    if target is None:
        raise LookupError(value)
    return target

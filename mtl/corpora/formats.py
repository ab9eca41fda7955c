"""The registry of corpus formats: format name -> reader module.

A reader module exposes `Options` (a pydantic model of its format options, extra keys forbidden) and
`read(path, options, *, corpus, task, split, max_line_bytes) -> Iterator[Record | Rejection | Header]`:
every unit of input is a Record or a Rejection; a Header is a header line (delimited), read but not a unit.
A file that cannot be read at all raises ReaderError (mtl/corpora/lines.py), naming it.
A new format is one module plus one line here.
"""

from types import ModuleType

from mtl.corpora import conll, conllu, delimited, jsonl, label_prefixed

FORMATS: dict[str, ModuleType] = {
    "conllu": conllu,
    "conll": conll,
    "delimited": delimited,
    "label_prefixed": label_prefixed,
    "jsonl": jsonl,
}

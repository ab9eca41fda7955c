"""Streaming line iteration shared by every reader, and the option every reader has: the encoding.

One notion of a line for every format: a line ends in LF or CRLF, and nothing else. A CR alone (a "bare CR")
is not a line end; a line holding one is refused whole (key "bare_cr"), so two lines joined by a CR are never
read as one, and a file whose line ends are CR alone (its first line runs to the end of the file, or past
max_line_bytes, holding CRs) is a ReaderError naming the file. A UTF-8 byte order mark starts a file at most:
inside a line, whatever the encoding (in latin-1 it would read as "ï»¿"), the line is refused.

Files are opened in binary so that one bad byte costs one line, not the whole file: each line is
decoded on its own, and a line that does not decode becomes a Rejection naming the byte and its
column. A line longer than `max_line_bytes` is read in bounded chunks and thrown away, so memory
never grows with the file, however it is shaped: it stays within about twice max_line_bytes.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from pydantic import BaseModel, ConfigDict, field_validator

from mtl.errors import MtlError
from mtl.records import Rejection, source_of

BOM = b"\xef\xbb\xbf"
CR = b"\r"
RAW_LIMIT = 2_000  # characters of raw text a Rejection keeps: enough to see the problem, never megabytes
SKIP_CHUNK = 1 << 16  # bytes read at a time while throwing away an over-long line

Line = tuple[int, str | Rejection]


class ReaderError(MtlError, ValueError):
    """A file that cannot be read at all (no usable header, CR-only line ends): the message names the file."""


class ReaderOptions(BaseModel):
    """Options every format has. Each reader's `Options` extends this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _ascii_compatible(cls, name: str) -> str:
        try:
            codecs.lookup(name)
        except LookupError:
            raise ValueError(f"unknown encoding {name!r}") from None
        # Lines are split on the byte b"\n" before decoding, which is only right when the
        # encoding writes ASCII as ASCII (utf-8, latin-1, cp1252; not utf-16).
        probe = "\t\n #:-,\"{}"
        try:
            compatible = probe.encode(name) == probe.encode("ascii")
        except (LookupError, UnicodeError):  # a codec that is not a text encoding, such as "hex"
            compatible = False
        if not compatible:
            raise ValueError(f"encoding {name!r} is not ASCII-compatible; lines cannot be split on b'\\n'")
        return name


def clip(raw: str, limit: int = RAW_LIMIT) -> str:
    """Raw text short enough to keep in a quarantine entry."""
    return raw if len(raw) <= limit else raw[:limit] + f"... [{len(raw) - limit} more characters]"


class Problem(NamedTuple):
    """Why a unit of input is refused: a stable key (counted in reports) and the reason a person reads."""

    key: str
    text: str


class Header(NamedTuple):
    """A header line a reader read and did not count as a unit of input. It goes to the report, and validation
    warns when it looks like data: `fields` are the fields it would give as a record (None where it could not
    be one: a label missing from the label map, a split value missing from the split map, an empty field)."""

    source: str  # "corpus/file:line"
    raw: str
    fields: dict[str, Any] | None


def reject(corpus: str, path: Path, line: int, split: str, raw: str, problem: Problem) -> Rejection:
    return Rejection(source=source_of(corpus, path.name, line), split=split, raw=clip(raw), reason=problem.text,
                     key=problem.key)


def iter_lines(
    path: Path, *, encoding: str, max_line_bytes: int, corpus: str, split: str
) -> Iterator[Line]:
    """Yield (line_number, text) for every line of `path`, 1-based, without its line end.

    Where a line cannot be read the text is a Rejection instead: every physical line yields exactly
    one pair, so a reader can count on the numbers and on nothing being skipped. A UTF-8 BOM at the
    start of the file is dropped, and "\\r\\n" reads the same as "\\n"; a bare CR refuses its line.
    """
    limit = max_line_bytes + 2  # room for "\r\n", so a line of exactly max_line_bytes fits
    with open(path, "rb") as file:
        if file.read(len(BOM)) != BOM:
            file.seek(0)
        readline = file.readline
        number = 0
        while data := readline(limit):
            number += 1
            if data.endswith(b"\n"):
                data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
                size = len(data)
            else:  # the file's last line without a line end, or a line that goes on past the limit
                # a CR in the first line, which runs to the end of the file or past the limit, ends lines (a CR
                # that the limit cut from its LF does not count)
                if number == 1 and CR in (data[:-1] if len(data) == limit else data):
                    raise ReaderError(f"{path}: line ends are CR alone (no LF in the first {len(data)} bytes, which "
                                      f"hold {data.count(CR)} CRs): convert the file to LF or CRLF line ends")
                size = len(data) if len(data) < limit else _skip_rest(file, data)
            if size > max_line_bytes:
                shown = data[: min(RAW_LIMIT, size)]
                raw = shown.decode(encoding, errors="replace")
                if size > len(shown):
                    raw += f"... [{size - len(shown)} more bytes]"
                reason = f"line of {size} bytes exceeds max_line_bytes={max_line_bytes}"
                yield number, Rejection(source_of(corpus, path.name, number), split, raw, reason, key="line_too_long")
                continue
            text, problem = _decode(data, encoding)
            if problem is None:
                yield number, text
            else:
                raw = data.decode(encoding, errors="backslashreplace")
                yield number, reject(corpus, path, number, split, raw, problem)


def _decode(data: bytes, encoding: str) -> tuple[str, Problem | None]:
    """A line's text, or why it cannot be read: a byte that belongs only at a line's end or at the file's start,
    or one that does not decode."""
    if CR in data:
        return "", Problem("bare_cr", f"bare CR (carriage return) at column {data.index(CR) + 1}: a CR alone does "
                                      "not end a line; lines end in LF or CRLF")
    if BOM in data:
        return "", Problem("byte_order_mark", f"byte order mark (EF BB BF) at column {data.index(BOM) + 1}: it "
                                              "belongs only at the start of a file (files joined together?)")
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as error:
        bad = error.object[error.start]
        return "", Problem("decode_error", f"invalid {error.encoding} byte 0x{bad:02X} at column {error.start + 1}")


def _skip_rest(file: BinaryIO, head: bytes) -> int:
    """Read and drop the rest of a line whose first bytes are `head`; return its size without the line end."""
    size = len(head)
    tail = head[-2:]
    while chunk := file.readline(SKIP_CHUNK):
        size += len(chunk)
        tail = (tail + chunk)[-2:]
        if chunk.endswith(b"\n"):
            break
    if tail.endswith(b"\n"):
        size -= 2 if tail == b"\r\n" else 1
    return size


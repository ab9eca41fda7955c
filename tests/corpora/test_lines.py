"""The shared line iteration (and tokenizers): line ends, BOM, bad bytes, over-long lines, bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora.lines import RAW_LIMIT, ReaderError, ReaderOptions, clip, iter_lines
from mtl.corpora.tokenize import get_tokenizer
from mtl.records import Rejection


def lines_of(tmp_path: Path, data: bytes, encoding: str = "utf-8", max_line_bytes: int = 1_000) -> list:
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    return list(iter_lines(path, encoding=encoding, max_line_bytes=max_line_bytes, corpus="c", split="train"))


@pytest.mark.parametrize(
    "data",
    [b"a b\n\nc\n", b"a b\r\n\r\nc\r\n", b"a b\r\n\nc", b"\xef\xbb\xbfa b\n\nc\n"],
    ids=["lf", "crlf", "mixed-no-final-newline", "bom"],
)
def test_line_ends_and_bom_read_the_same(tmp_path: Path, data: bytes) -> None:
    assert lines_of(tmp_path, data) == [(1, "a b"), (2, ""), (3, "c")]


def test_only_a_leading_bom_is_dropped_and_a_bare_cr_refuses_its_line(tmp_path: Path) -> None:
    """A CR alone is not a line end (so two lines joined by one are never read as one record), and a BOM
    inside the file is not text; both refuse their line, the lines around them are read."""
    data = b"\xef\xbb\xbfx\n\xef\xbb\xbfy\nu\rv\nw\r\r\nz\n"
    got = lines_of(tmp_path, data)
    assert [got[0], got[4]] == [(1, "x"), (5, "z")]
    assert [(number, r.key, r.reason, r.raw) for number, r in got[1:4]] == [
        (2, "byte_order_mark", "byte order mark (EF BB BF) at column 1: it belongs only at the start of a file "
                               "(files joined together?)", "\ufeffy"),
        (3, "bare_cr", "bare CR (carriage return) at column 2: a CR alone does not end a line; lines end in LF "
                       "or CRLF", "u\rv"),
        (4, "bare_cr", "bare CR (carriage return) at column 2: a CR alone does not end a line; lines end in LF "
                       "or CRLF", "w\r"),
    ]


def test_a_bom_inside_a_line_is_refused_in_any_encoding(tmp_path: Path) -> None:
    """In latin-1 the BOM's bytes decode to "ï»¿": only the bytes can tell it (a TREC line would become a class
    "ï»¿DESC")."""
    first, (_, rejection) = lines_of(tmp_path, b"HUM:ind Who ?\n\xef\xbb\xbfDESC:def What ?\n", encoding="latin-1")
    assert first == (1, "HUM:ind Who ?")
    assert (rejection.key, rejection.source, rejection.raw) == ("byte_order_mark", "c/f.txt:2", "ï»¿DESC:def What ?")


@pytest.mark.parametrize("data", [b"a\rb\rc\r", b"a\rb", b"a\r" + b"x" * 3_000])
def test_cr_only_line_ends_are_an_error_naming_the_file(tmp_path: Path, data: bytes) -> None:
    """The first line runs to the end of the file (or past max_line_bytes) holding CRs: the file's lines end
    in CR alone. One error for the file, not one refused "line" holding all of it."""
    with pytest.raises(ReaderError, match=r"f\.txt: line ends are CR alone \(no LF in the first \d+ bytes, which "
                                          r"hold \d+ CRs\): convert the file to LF or CRLF line ends"):
        lines_of(tmp_path, data)


def test_an_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert lines_of(tmp_path, b"") == []
    assert lines_of(tmp_path, b"\xef\xbb\xbf") == []


def test_a_final_newline_does_not_add_a_line(tmp_path: Path) -> None:
    assert lines_of(tmp_path, b"a\nb\n") == [(1, "a"), (2, "b")]
    assert lines_of(tmp_path, b"a\nb\n\n") == [(1, "a"), (2, "b"), (3, "")]


@pytest.mark.parametrize(
    ("data", "reason", "raw"),
    [
        (b"ab\xf0cd", "invalid utf-8 byte 0xF0 at column 3", "ab\\xf0cd"),
        (b"caf\xc3", "invalid utf-8 byte 0xC3 at column 4", "caf\\xc3"),  # a sequence cut short
        (b"\xff", "invalid utf-8 byte 0xFF at column 1", "\\xff"),
    ],
)
def test_a_bad_byte_rejects_its_line_only(tmp_path: Path, data: bytes, reason: str, raw: str) -> None:
    got = lines_of(tmp_path, b"ok\n" + data + b"\r\nnext\n")
    assert got[0] == (1, "ok") and got[2] == (3, "next")
    number, rejection = got[1]
    assert number == 2
    assert rejection == Rejection(source="c/f.txt:2", split="train", raw=raw, reason=reason, key="decode_error")


def test_another_encoding_decodes_what_utf8_rejects(tmp_path: Path) -> None:
    assert lines_of(tmp_path, b"sister\xf0city\n", encoding="latin-1") == [(1, "sister\u00f0city")]
    (_, rejection), = lines_of(tmp_path, b"caf\xe9\n", encoding="ascii")
    assert rejection.reason == "invalid ascii byte 0xE9 at column 4"


@pytest.mark.parametrize(
    ("content", "end", "rejected"),
    [(10, b"\n", False), (10, b"\r\n", False), (10, b"", False), (11, b"\n", True), (11, b"\r\n", True),
     (12, b"", True), (13, b"\n", True), (500, b"\r\n", True)],
)
def test_max_line_bytes_counts_the_line_without_its_end(
    tmp_path: Path, content: int, end: bytes, rejected: bool
) -> None:
    after = b"after\n" if end else b""  # without a line end, the line is the file's last
    got = lines_of(tmp_path, b"x" * content + end + after, max_line_bytes=10)
    number, text = got[0]
    if rejected:
        assert isinstance(text, Rejection)
        assert text.reason == f"line of {content} bytes exceeds max_line_bytes=10"
        shown = min(content, 12)  # the bytes read before the limit was seen: max_line_bytes + 2
        assert text.raw == "x" * shown + (f"... [{content - shown} more bytes]" if content > shown else "")
    else:
        assert text == "x" * content
    assert got[1:] == ([(2, "after")] if end else [])


@pytest.mark.parametrize("max_line_bytes", [1_000_000, 100_000])
def test_a_huge_line_is_rejected_in_bounded_memory(tmp_path: Path, max_line_bytes: int) -> None:
    path = tmp_path / "huge.txt"
    size = 3_000_000
    path.write_bytes(b"first\n" + b"y" * size + b"\r\nlast")
    tracemalloc.start()
    try:
        got = list(iter_lines(path, encoding="utf-8", max_line_bytes=max_line_bytes, corpus="c", split="dev"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got[0] == (1, "first") and got[2] == (3, "last")
    number, rejection = got[1]
    assert number == 2
    assert rejection.reason == f"line of 3000000 bytes exceeds max_line_bytes={max_line_bytes}"
    assert rejection.source == "c/huge.txt:2" and rejection.split == "dev"
    assert rejection.raw == "y" * RAW_LIMIT + f"... [{size - RAW_LIMIT} more bytes]"
    # readline(limit) joins its chunks, so up to twice the limit is live at once; never the whole line
    assert peak < 2 * max_line_bytes + 300_000, f"peak {peak} bytes"


def test_clip_keeps_short_text_and_cuts_long_text() -> None:
    assert clip("short") == "short"
    long = "z" * (RAW_LIMIT + 5)
    assert clip(long) == "z" * RAW_LIMIT + "... [5 more characters]"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "ascii", "UTF8"])
def test_ascii_compatible_encodings_are_accepted(encoding: str) -> None:
    assert ReaderOptions(encoding=encoding).encoding == encoding


@pytest.mark.parametrize(
    ("encoding", "message"),
    [("utf-16", "not ASCII-compatible"), ("utf-32-le", "not ASCII-compatible"), ("hex", "not ASCII-compatible"),
     ("klingon", "unknown encoding 'klingon'")],
)
def test_other_encodings_are_config_errors(encoding: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReaderOptions(encoding=encoding)


def test_options_forbid_unknown_keys_and_are_frozen() -> None:
    with pytest.raises(ValidationError, match="encodng"):
        ReaderOptions(encodng="utf-8")
    options = ReaderOptions()
    with pytest.raises(ValidationError):
        options.encoding = "latin-1"


@pytest.mark.parametrize(
    ("name", "text", "tokens"),
    [
        ("whitespace", "  it 's  a\tfilm .\n", ["it", "'s", "a", "film", "."]),
        ("wordpunct", "Don't stop -- it's 3.5km!",
         ["Don", "'", "t", "stop", "--", "it", "'", "s", "3", ".", "5km", "!"]),
        ("wordpunct", "café ❤️ naïve", ["café", "❤️", "naïve"]),
        ("wordpunct", "   ", []),
    ],
)
def test_tokenizers(name: str, text: str, tokens: list[str]) -> None:
    assert get_tokenizer(name)(text) == tokens


def test_an_unknown_tokenizer_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        get_tokenizer("bpe")  # type: ignore[arg-type]

"""The two raw-byte scanners of ``crmine.privacy._traces`` - ``grep -F`` and the pure-Python
trie used where no grep can be run - find the same values at the same offsets: erasure's
proof that no byte of a person is left must not depend on which one ran."""

from __future__ import annotations

import shutil

import pytest

from crmine.privacy import _traces
from crmine.privacy._traces import _count_in_file, _encodings, _grep_offsets, byte_offsets

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="no grep to compare")


def _both(path, patterns, monkeypatch, chunk=None):
    """(grep's offsets, the Python scanner's offsets, grep's count, the Python count)."""
    by_grep = _grep_offsets(path, patterns)
    counted_by_grep = _count_in_file(path, patterns)
    with monkeypatch.context() as m:
        m.setattr(_traces, "_grep_offsets", lambda path, patterns: None)  # no grep
        if chunk is not None:
            m.setattr(_traces, "_CHUNK", chunk)
        by_python = byte_offsets(path, patterns)
        counted_by_python = _count_in_file(path, patterns)
    return by_grep, by_python, counted_by_grep, counted_by_python


def _agree(path, patterns, expected, monkeypatch, chunk=None):
    by_grep, by_python, n_grep, n_python = _both(path, patterns, monkeypatch, chunk)
    assert by_grep == expected
    assert by_python == expected
    assert n_grep == n_python == len(expected)


def test_utf16_and_utf32_forms_hold_nul_bytes(tmp_path, monkeypatch):
    name = "Ann Lee"
    data = (b"\x00\x00head" + name.encode("utf-16-le") + b"\x00" + name.encode("utf-32-le")
            + b"mid" + name.encode() + b"\x00")  # fmt: skip
    (path := tmp_path / "nul.bin").write_bytes(data)
    patterns = _encodings([name])
    assert all(b"\x00" in p for p in patterns if p != name.encode())
    _agree(path, patterns, {name.encode("utf-16-le"): [6], name.encode("utf-32-le"): [21],
                            name.encode(): [52]}, monkeypatch)  # fmt: skip


def test_regex_metacharacters_are_literal(tmp_path, monkeypatch):
    needle = "a.b+c[d\\e"
    # the same characters with "." and "+" read as a regex would match here: they must not
    (path := tmp_path / "meta.txt").write_bytes(b"axb+c[d\\e abbbc[d\\e a.b+c[d\\e|a.b+c[d\\e")
    _agree(path, [needle.encode()], {needle.encode(): [20, 30]}, monkeypatch)
    # a bracket and a backslash alone, which a regex could not even compile
    (path := tmp_path / "brackets.txt").write_bytes(b"x[y \\z [ \\")
    _agree(path, [b"[", b"\\"], {b"[": [1, 7], b"\\": [4, 9]}, monkeypatch)


def test_needles_holding_newlines(tmp_path, monkeypatch):
    address = "No. 216\nRenmin Road"
    # UTF-16 of 䀊 (U+400A) is b"\n@": a newline byte inside a Chinese character
    data = (b"No. 216\n" + b"x" + address.encode() + b"\n\n" + "中䀊文".encode("utf-16-le")
            + "䀊文".encode("utf-32-le"))  # fmt: skip
    (path := tmp_path / "lines.txt").write_bytes(data)
    patterns = [address.encode(), "䀊文".encode("utf-16-le"), "䀊文".encode("utf-32-le")]
    assert all(b"\n" in p for p in patterns)
    _agree(path, patterns, {address.encode(): [9], "䀊文".encode("utf-16-le"): [32],
                            "䀊文".encode("utf-32-le"): [36]}, monkeypatch)  # fmt: skip


def test_chinese_text_in_every_encoding(tmp_path, monkeypatch):
    name = "徐娜"
    data = ("徐".encode() + "前".encode("utf-16-le") + name.encode("utf-16-le") * 2
            + name.encode() + "徐那".encode("utf-32-le") + name.encode("utf-32-le"))  # fmt: skip
    (path := tmp_path / "zh.bin").write_bytes(data)
    _agree(path, _encodings([name]), {name.encode("utf-16-le"): [5, 9], name.encode(): [13],
                                      name.encode("utf-32-le"): [27]}, monkeypatch)  # fmt: skip


def test_a_needle_that_begins_another_is_found_at_the_same_offset(tmp_path, monkeypatch):
    # grep reports only the longest at an offset; the shorter one starts there too
    (path := tmp_path / "ids.txt").write_bytes(b"C001439,C00143;C0014390")
    patterns = [b"C001439", b"C00143", b"C0014390"]
    _agree(path, patterns, {b"C00143": [0, 8, 15], b"C001439": [0, 15], b"C0014390": [15]},
           monkeypatch)  # fmt: skip


@pytest.mark.parametrize("chunk", [1, 5, 16])
def test_a_needle_straddling_a_read_chunk_is_found_once(tmp_path, monkeypatch, chunk):
    email = "na.xu1357@example.cn".encode("utf-16-le")  # 40 bytes, NULs included
    data = b"z" * 10 + email + b"-" * 7 + email + b"@"
    (path := tmp_path / "seam.bin").write_bytes(data)  # every chunk size cuts both copies
    _agree(path, [email, email[:12]], {email: [10, 57], email[:12]: [10, 57]}, monkeypatch,
           chunk)  # fmt: skip


def test_seams_of_the_real_chunk_size(tmp_path, monkeypatch):
    needle = "徐娜".encode("utf-32-le")
    start = _traces._CHUNK - 3  # the first read ends 3 bytes into the needle
    with (path := tmp_path / "big.bin").open("wb") as fh:
        fh.write(b"\x01" * start + needle + b"\x02" * 100 + needle)
    _agree(path, _encodings(["徐娜"]), {needle: [start, start + len(needle) + 100]},
           monkeypatch)  # fmt: skip


def test_a_file_without_the_needle_and_an_empty_file(tmp_path, monkeypatch):
    # the needle's bytes are all there, but never in one piece
    data = b"na.xu1357 @example.cn " + "徐 娜".encode("utf-16-le")
    (path := tmp_path / "none.bin").write_bytes(data)
    patterns = _encodings(["na.xu1357@example.cn", "徐娜"])
    _agree(path, patterns, {}, monkeypatch)
    (empty := tmp_path / "empty.bin").write_bytes(b"")
    _agree(empty, patterns, {}, monkeypatch)

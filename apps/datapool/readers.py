"""Read an uploaded file as rows: CSV (UTF-8 or GB18030/GBK, detected), Excel (.xlsx) or JSON
lines. The format is decided by content, never by the file name; every reader streams, so a
200 MB file never sits in memory.

`open_source(binary_file)` returns a `Source` whose `header` lists the columns and whose
`rows()` yields `(line_number, {column: value}, None)`, or `(line_number, None, bad)` for a line
that cannot be a row, `bad` being the row as read (a `BadRow`: wrong column count; a `BadLine`:
not a JSON object) so the caller can reject it with its line and reason. A byte that is not in
the file's encoding fails the whole file with the line it is on.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
import zlib
from dataclasses import dataclass, field

import orjson
from django.conf import settings

from apps.core.uploads import ZIP_MAX_ENTRIES, UnsafeZip, binary_signature, looks_like_markup, zip_inspect

from .choices import SourceFormat
from .errors import LoadError

SAMPLE_BYTES = 64 * 1024
DECODE_CHUNK = 256 * 1024
XLSX_MAX_RATIO = 200  # unpacked / packed: spreadsheet XML compresses well, never this well
# What reading a damaged workbook raises (SyntaxError covers the XML parser's ParseError).
EXCEL_READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, SyntaxError, ValueError, KeyError, TypeError)
csv.field_size_limit(16 * 1024 * 1024)


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _line_at(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _looks_utf16(sample: bytes) -> bool:
    """UTF-16 without a BOM: a NUL in every other byte of text that is mostly ASCII."""
    head = sample[:4096]
    half = max(1, len(head) // 2)
    return head[0::2].count(0) > half * 0.3 or head[1::2].count(0) > half * 0.3


def _mostly_utf8(sample: bytes) -> bool:
    """UTF-8 with a few broken bytes (a truncated or damaged file), not another encoding: GBK
    text read as UTF-8 is almost all errors, UTF-8 with a bad byte almost all valid."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - bad >= max(8, 8 * bad)


def detect_encoding(sample: bytes) -> str:
    """'utf-8-sig' or 'gb18030' (a superset of GBK and GB2312), or LoadError('encoding', line=)
    naming the line of the first byte that is neither."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(sample):
        raise LoadError("encoding", line=1)
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)  # may end mid-character
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if _mostly_utf8(sample):
            raise LoadError("encoding", line=_line_at(sample, exc.start)) from None
    try:
        codecs.getincrementaldecoder("gb18030")("strict").decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise LoadError("encoding", line=_line_at(sample, exc.start)) from None


# Bytes no text in UTF-8 or GB18030 holds (every byte of a multi-byte character is >= 0x30), but
# compressed data (a photo, a PDF, a program) holds about one in nine of.
CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])


def _control_bytes(head: bytes) -> int:
    return len(head) - len(head.translate(None, CONTROL_BYTES))


def sniff_format(sample: bytes) -> str:
    if sample.startswith(b"PK\x03\x04"):
        return SourceFormat.XLSX
    text = sample.lstrip(codecs.BOM_UTF8).lstrip()
    if not text:
        raise LoadError("empty")
    head = sample[:4096]
    if _control_bytes(head) > len(head) // 100 and not _looks_utf16(sample):  # binary, not text
        raise LoadError("format")
    if looks_like_markup(head):  # a web page or an SVG renamed .csv: not data
        raise LoadError("format")
    if text.startswith(b"{"):
        return SourceFormat.JSONL
    return SourceFormat.CSV


class BadRow(dict):
    """A source row that cannot be mapped (the row as read, for the rejected row's record)."""

    reason = "columns"


class BadLine(BadRow):
    reason = "json"


@dataclass
class Source:
    format: str
    encoding: str = ""
    header: list = field(default_factory=list)
    rows_expected: int = 0
    _rows: object = None

    def rows(self):
        return self._rows


def _sample(binary, size: int) -> bytes:
    if size == 0:
        raise LoadError("empty")
    max_mb = _limit("DATAPOOL_MAX_UPLOAD_MB", 512)
    if size > max_mb * 1024 * 1024:
        raise LoadError("too_large", limit=max_mb)
    binary.seek(0)
    sample = binary.read(SAMPLE_BYTES)
    binary.seek(0)
    return sample


def check_upload(binary, size: int) -> str:
    """What can be refused before a file is stored, without reading its rows: the size, the format
    by content (not CSV, Excel or JSON lines: a program, an image, a web page), and for Excel an
    archive that is not one or would unpack beyond the limits. The format, or LoadError. The
    encoding, and text without rows, are left to the load, which names the line or says so."""
    sample = _sample(binary, size)
    if binary_signature(sample):  # an image, a program, a PDF, another archive: never data here
        raise LoadError("format")
    try:
        kind = sniff_format(sample)
    except LoadError as exc:
        if exc.code != "empty":
            raise
        return SourceFormat.CSV
    if kind == SourceFormat.XLSX:
        _check_xlsx_archive(binary)
    return kind


def open_source(binary, size: int) -> Source:
    """Open `binary` (a seekable binary file of `size` bytes) and read its header."""
    sample = _sample(binary, size)
    kind = sniff_format(sample)
    if kind == SourceFormat.XLSX:
        return _open_xlsx(binary)
    encoding = detect_encoding(sample)
    lines_in_sample = max(1, sample.count(b"\n"))
    expected = int(size / (len(sample) / lines_in_sample)) if len(sample) < size else lines_in_sample
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    text._CHUNK_SIZE = DECODE_CHUNK  # fewer, larger decode calls than the default 8 KB
    if kind == SourceFormat.JSONL:
        return Source(SourceFormat.JSONL, encoding, [], expected, _jsonl_rows(text))
    return _open_csv(text, encoding, sample, expected)


def _decoding(rows, position):
    """Re-raise a decoding error in the middle of a file as LoadError with its line: the lines
    consumed so far plus the line breaks before the bad byte in the chunk being decoded."""
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, position()) from None


def _decode_error(exc: UnicodeDecodeError, lines_read: int) -> LoadError:
    data = exc.object if isinstance(exc.object, (bytes, bytearray)) else b""
    return LoadError("encoding", line=lines_read + _line_at(data, exc.start))


def _open_csv(text, encoding: str, sample: bytes, expected: int) -> Source:
    try:
        first = sample.decode(encoding, errors="ignore").splitlines()[0]
        dialect = csv.Sniffer().sniff(first, delimiters=",\t;|")
        delimiter = dialect.delimiter
    except (csv.Error, IndexError):
        delimiter = ","
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError("empty") from None
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, 0) from None
    header = [h.strip() for h in header]
    if not header or any(not h for h in header) or len(set(header)) != len(header):
        raise LoadError("header")
    width = len(header)

    def rows():
        for values in reader:
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # a blank line
            if len(values) != width:
                bad = BadRow(zip(header, values, strict=False))
                if len(values) > width:
                    bad["…"] = values[width:]
                yield reader.line_num, None, bad
                continue
            yield reader.line_num, dict(zip(header, values, strict=False)), None

    return Source(SourceFormat.CSV, encoding, header, max(expected - 1, 1), _decoding(rows(), lambda: reader.line_num))


def _jsonl_rows(text):
    line_no = 0

    def rows():
        nonlocal line_no
        for line_no, line in enumerate(text, start=1):  # noqa: B007 - line_no is read by _decoding
            line = line.strip()
            if not line:
                continue
            try:
                obj = orjson.loads(line)  # strict JSON: no NaN, no lone surrogates
            except orjson.JSONDecodeError:
                obj = None
            if not isinstance(obj, dict):
                yield line_no, None, BadLine(line=line[:1000])
                continue
            yield line_no, obj, None

    return _decoding(rows(), lambda: line_no)


def _check_xlsx_archive(binary) -> None:
    """Refuse an archive that is not one, holds more parts than any workbook, or would unpack to
    far more than it weighs (a zip bomb), before anything is unpacked (apps.core.uploads)."""
    limit_mb = _limit("DATAPOOL_MAX_XLSX_UNPACKED_MB", 1024)
    try:
        archive = zip_inspect(binary)
    except UnsafeZip as exc:
        if exc.reason == "too_many_entries":
            raise LoadError("zip_entries", limit=ZIP_MAX_ENTRIES) from None
        raise LoadError("format") from None
    if archive.unpacked > limit_mb * 1024 * 1024 or archive.ratio > XLSX_MAX_RATIO:
        raise LoadError("too_large", limit=limit_mb)


def _open_xlsx(binary) -> Source:
    """Excel through openpyxl in read-only (streaming) mode, after checking the archive."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _check_xlsx_archive(binary)
    try:
        workbook = load_workbook(binary, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except (InvalidFileException, OSError, IndexError, *EXCEL_READ_ERRORS) as exc:
        raise LoadError("excel", detail=str(exc)[:200]) from None
    max_cells = _limit("DATAPOOL_MAX_XLSX_CELLS", 50_000_000)
    try:
        if (sheet.max_row or 0) * (sheet.max_column or 0) > max_cells:
            raise LoadError("too_many_cells", limit=max_cells)
    except (TypeError, ValueError):
        pass
    rows_iter = sheet.iter_rows(values_only=True)
    header = None
    line = 0
    try:
        for line, values in enumerate(rows_iter, start=1):  # noqa: B007 - the header's line is kept
            if values and any(v not in (None, "") for v in values):
                header = ["" if v is None else str(v).strip() for v in values]
                while header and header[-1] == "":
                    header.pop()
                break
    except EXCEL_READ_ERRORS as exc:
        workbook.close()
        raise LoadError("excel", detail=str(exc)[:200]) from None
    if header is None:
        workbook.close()
        raise LoadError("empty")
    if any(not h for h in header) or len(set(header)) != len(header):
        workbook.close()
        raise LoadError("header")
    width = len(header)
    start = line

    def rows():
        try:
            for number, values in enumerate(rows_iter, start=start + 1):
                if not values or all(v in (None, "") for v in values):
                    continue
                cells = list(values[:width]) + [None] * (width - len(values))
                if any(v not in (None, "") for v in values[width:]):
                    bad = BadRow(zip(header, cells, strict=True))
                    bad["…"] = [v for v in values[width:] if v not in (None, "")]
                    yield number, None, bad
                    continue
                yield number, {h: ("" if v is None else v) for h, v in zip(header, cells, strict=True)}, None
        except EXCEL_READ_ERRORS as exc:
            # a damaged sheet (a member whose bytes do not match its declared size or checksum, XML
            # cut short): the file's fault, not a crash worth another attempt
            raise LoadError("excel", detail=str(exc)[:200]) from None
        finally:
            workbook.close()

    expected = max(1, (sheet.max_row or 1) - start)
    return Source(SourceFormat.XLSX, "", header, expected, rows())

"""Checks every upload path shares: the file's name as the platform keeps it, what a zip archive
holds, read before anything unpacks it, whether a file opens like a known binary format, and
whether "text" is in fact a web page.

Python's `zipfile` reads the whole central directory into memory when it opens an archive, and an
archive's declared sizes are the writer's word. So `zip_inspect` first reads the end-of-central-
directory record itself and refuses an archive that claims more entries, or a larger directory,
than a workbook or a document ever has; only then does it let `zipfile` list the entries. Reading a
member is bounded by its declared size (zipfile stops there and fails the CRC check), so the sum
of declared sizes bounds what unpacking can produce.
"""

from __future__ import annotations

import os
import struct
import zipfile
from dataclasses import dataclass

FILE_NAME_MAX = 200


def clean_file_name(name: str | None) -> str:
    """The name an uploaded file is kept and offered for download under: its last path component
    (a browser may send a Windows path), without NUL bytes or surrounding spaces, shortened to
    FILE_NAME_MAX characters keeping the extension. Empty when nothing is left."""
    name = os.path.basename((name or "").replace("\\", "/")).strip().replace("\x00", "")
    stem, ext = os.path.splitext(name)
    return (stem[: FILE_NAME_MAX - len(ext)] + ext) if len(name) > FILE_NAME_MAX else name


# Office documents hold tens of parts; a spreadsheet with thousands of sheets and images stays far below.
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_DIRECTORY_BYTES = 2 * 1024 * 1024  # about 200 bytes for each of ZIP_MAX_ENTRIES entries

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD_SEARCH = _EOCD.size + 0xFFFF  # the record, after at most a 64 KB comment


class UnsafeZip(ValueError):
    """Not a zip archive, or one this platform does not open. `reason`: "not_zip" or "too_many_entries"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ZipSummary:
    names: tuple[str, ...]
    unpacked: int  # the sum of the members' declared sizes: what unpacking can produce at most
    packed: int  # the sum of their compressed sizes

    @property
    def ratio(self) -> float:
        return self.unpacked / max(1, self.packed)


def _directory(fileobj) -> tuple[int, int]:
    """(entries, central directory bytes) as the end-of-central-directory record states them."""
    fileobj.seek(0, 2)
    size = fileobj.tell()
    start = max(0, size - _EOCD_SEARCH)
    fileobj.seek(start)
    tail = fileobj.read(size - start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise UnsafeZip("not_zip")
    _sig, _disk, _cd_disk, _here, entries, directory, _offset, _comment = _EOCD.unpack_from(tail, at)
    if entries == 0xFFFF or directory == 0xFFFFFFFF:  # ZIP64: the real figures are in the ZIP64 record
        locator = at - _EOCD64_LOCATOR.size
        if locator < 0:
            raise UnsafeZip("not_zip")
        sig, _disk, record_offset, _disks = _EOCD64_LOCATOR.unpack_from(tail, locator)
        if sig != b"PK\x06\x07" or record_offset > size - _EOCD64.size:
            raise UnsafeZip("not_zip")
        fileobj.seek(record_offset)
        record = fileobj.read(_EOCD64.size)
        sig, _size, _made, _needed, _disk, _cd_disk, _here, entries, directory, _offset = _EOCD64.unpack(record)
        if sig != b"PK\x06\x06":
            raise UnsafeZip("not_zip")
    return entries, directory


def zip_inspect(fileobj, *, max_entries: int = ZIP_MAX_ENTRIES) -> ZipSummary:
    """The members of a zip archive without unpacking any, or UnsafeZip. Leaves `fileobj` at 0."""
    try:
        entries, directory = _directory(fileobj)
        if entries > max_entries or directory > max(ZIP_MAX_DIRECTORY_BYTES, max_entries * 200):
            raise UnsafeZip("too_many_entries")
        fileobj.seek(0)
        try:
            with zipfile.ZipFile(fileobj) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
            raise UnsafeZip("not_zip") from None
        if len(infos) > max_entries:  # the record undercounted
            raise UnsafeZip("too_many_entries")
        return ZipSummary(
            names=tuple(info.filename for info in infos),
            unpacked=sum(info.file_size for info in infos),
            packed=sum(info.compress_size for info in infos),
        )
    finally:
        fileobj.seek(0)


# The first bytes of common binary formats: images, documents, programs, compressed files. A file
# that opens with one is that, whatever it is called, and whatever else its bytes might pass for
# (a PNG's NULs can look like UTF-16 text).
BINARY_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF87a": "GIF image",
    b"GIF89a": "GIF image",
    b"BM": "bitmap image",
    b"II*\x00": "TIFF image",
    b"MM\x00*": "TIFF image",
    b"%PDF-": "PDF document",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "Office 97-2003 document",
    b"{\\rtf": "RTF document",
    b"MZ": "Windows program",
    b"\x7fELF": "Linux program",
    b"\xcf\xfa\xed\xfe": "macOS program",
    b"\xca\xfe\xba\xbe": "macOS or Java program",
    b"\x1f\x8b": "gzip archive",
    b"BZh": "bzip2 archive",
    b"\xfd7zXZ\x00": "xz archive",
    b"(\xb5/\xfd": "zstd archive",
    b"7z\xbc\xaf'\x1c": "7-Zip archive",
    b"Rar!\x1a\x07": "RAR archive",
    b"RIFF": "RIFF media",
    b"OggS": "Ogg media",
    b"ID3": "MP3 audio",
    b"\x00\x00\x00\x18ftyp": "MP4 video",
    b"\x00\x00\x00\x20ftyp": "MP4 video",
    b"SQLite format 3\x00": "SQLite database",
}


_CONTROL = bytes([*range(0, 9), 11, *range(14, 32), 127])


def _telling(magic: bytes) -> bool:
    """A signature no line of text starts with: it holds a control or non-ASCII byte, or is long."""
    return len(magic) >= 5 or any(b in _CONTROL or b > 127 for b in magic)


def binary_signature(head: bytes) -> str | None:
    """What a file is by its first bytes, when it opens like a known binary format; else None. A
    short printable signature ("MZ", "BM", "RIFF") counts only with control bytes after it, so a
    CSV whose first column is called "BMI" stays a CSV."""
    for magic, kind in BINARY_SIGNATURES.items():
        if head.startswith(magic) and (_telling(magic) or any(b in _CONTROL for b in head[len(magic) : 1024])):
            return kind
    return None


# Text that a browser would run or render as a page: refused where a file is meant to be data.
MARKUP_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<!--", b"<iframe")


def looks_like_markup(head: bytes) -> bool:
    """True for HTML, SVG or XML, whatever the file is called: its first bytes (after a UTF-8 BOM
    and white space) open a tag a browser acts on."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return text.startswith(MARKUP_STARTS)

"""Work bounds checked before a header is parsed: how far a deflated data set inflates, how many elements it holds.

A crafted file can cost far more to parse than its size suggests: 200 KB of deflated zeros inflate to
200 MB (pydicom inflates the whole data set in memory, twice over by the time it is rewritten), and
5 MB of deflated empty elements inflate to 4 million elements (about 50 s of CPU and 3 GB in pydicom).
Real objects are nowhere near either bound: an enhanced multi-frame header of a few thousand frames
has a few hundred thousand elements, and deflate is used for small objects (SR, presentation states).

`check_file` inflates a deflated data set with a bounded decompressor (never more than the limit in
memory) and counts its elements, and counts the elements of any other file too large to be harmless; `count_elements` walks element headers without building anything:
it descends into sequences and items, skips values, skips encapsulated pixel data fragments, and
stops at the top-level pixel data. Both refuse with TooComplexError past their bound. A walk that
meets something it cannot follow (a damaged length, an unknown VR) just stops: the parser decides
what the file is.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from .errors import TooComplexError

__all__ = ["MAX_ELEMENTS", "MAX_INFLATED_BYTES", "check_file", "count_elements", "inflate_bounded"]

MAX_INFLATED_BYTES = 128 * 1024 * 1024
MAX_ELEMENTS = 500_000
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_LENGTH_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL",
     b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_UNDEFINED = 0xFFFFFFFF
_ITEM_GROUP = 0xFFFE
_SEQUENCE_END = 0xE0DD
_ITEM_END = 0xE00D
_PIXEL_DATA = 0x7FE00010
_CHUNK = 1 << 20
_DEFLATED = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_IMPLICIT_LE = "1.2.840.10008.1.2"
# A file this small cannot hold MAX_ELEMENTS elements (8 bytes each at least): only deflate can make it costly.
SMALL_FILE = 8 * MAX_ELEMENTS


def check_file(fp: BinaryIO, size: int) -> None:
    """Refuse the file at `fp` before parsing when its data set inflates or holds more than the bounds allow."""
    fp.seek(0)
    head = fp.read(132)
    position = 132 if len(head) == 132 and head[128:132] == b"DICM" else 0
    syntax, body = _file_meta(fp, position, size)
    if syntax == _DEFLATED:
        fp.seek(body)
        inflated = inflate_bounded(fp.read())
        count_elements(inflated, 0, implicit=False, little_endian=True)
    elif size > SMALL_FILE:
        with _view(fp) as data:
            explicit = data[body + 4:body + 6] in _LONG_LENGTH_VRS | _SHORT_LENGTH_VRS
            count_elements(data, body, implicit=syntax == _IMPLICIT_LE or (not syntax and not explicit),
                           little_endian=syntax != _BIG_ENDIAN)
    fp.seek(0)


def _file_meta(fp: BinaryIO, position: int, size: int) -> tuple[str, int]:
    """The transfer syntax named in the file meta (group 0002, explicit VR little endian) and where it ends."""
    syntax = ""
    while position + 8 <= size:
        fp.seek(position)
        header = fp.read(12)
        if len(header) < 8:
            break
        group, element, vr, length = struct.unpack_from("<HH2sH", header)
        if group != 0x0002:
            break
        start = position + 8
        if vr in _LONG_LENGTH_VRS:
            if len(header) < 12:
                break
            length = struct.unpack_from("<L", header, 8)[0]
            start = position + 12
        if length == _UNDEFINED or length > 1024:
            break
        if element == 0x0010:
            fp.seek(start)
            syntax = fp.read(length).decode("latin-1").strip(" \x00")
        position = start + length
    return syntax, position


@contextlib.contextmanager
def _view(fp: BinaryIO) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes without reading them all: a memory map of a real file, the buffer of an in-memory one."""
    if isinstance(fp, io.BytesIO):
        yield fp.getvalue()
        return
    try:
        mapped = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fp.seek(0)
        yield fp.read()
        return
    try:
        yield mapped
    finally:
        mapped.close()


def inflate_bounded(data: bytes, limit: int | None = None) -> bytes:
    """Inflate raw deflate `data` (PS3.5 A.5: no zlib header), refusing once the output passes `limit` bytes
    (MAX_INFLATED_BYTES unless given)."""
    limit = MAX_INFLATED_BYTES if limit is None else limit
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    while pending:
        try:
            out += decompressor.decompress(pending, _CHUNK)
        except zlib.error:
            break  # damaged: the parser says what it is
        if len(out) > limit:
            raise TooComplexError(f"its deflated data set inflates to more than {limit // (1024 * 1024)} MB; "
                                  "send it uncompressed")
        pending = decompressor.unconsumed_tail
    return bytes(out)


def count_elements(data: bytes | mmap.mmap, position: int, *, implicit: bool, little_endian: bool,
                   limit: int | None = None) -> int:
    """Count the element headers in `data` from `position` up to the top-level pixel data; refuse past `limit`
    (MAX_ELEMENTS unless given)."""
    limit = MAX_ELEMENTS if limit is None else limit
    order = "<" if little_endian else ">"
    tag_length = struct.Struct(order + "HHL")
    explicit_short = struct.Struct(order + "HH2sH")
    long_length = struct.Struct(order + "L")
    size = len(data)
    count = 0
    # End positions of the defined-length sequences and items being walked; the walk is at top level when
    # it is empty and no undefined-length container is open.
    ends: list[int] = []
    open_undefined = 0
    while position + 8 <= size:
        while ends and position >= ends[-1]:
            ends.pop()
        group, element, length = tag_length.unpack_from(data, position)
        if group == _ITEM_GROUP:  # item, item delimiter, sequence delimiter: 8 bytes, no VR
            position += 8
            if element in (_SEQUENCE_END, _ITEM_END):
                open_undefined = max(0, open_undefined - 1)
            elif length == _UNDEFINED:
                open_undefined += 1
            elif length:
                ends.append(position + length)
            continue
        tag = group << 16 | element
        if implicit:
            vr = b""
            start = position + 8
        else:
            _, _, vr, length = explicit_short.unpack_from(data, position)
            if vr in _LONG_LENGTH_VRS:
                if position + 12 > size:
                    break
                length = long_length.unpack_from(data, position + 8)[0]
                start = position + 12
            elif vr in _SHORT_LENGTH_VRS:
                start = position + 8
            else:
                break  # not something this walk can follow
        count += 1
        if count > limit:
            raise TooComplexError(f"it holds more than {limit:,} data elements; no real DICOM object does")
        if tag == _PIXEL_DATA:
            if not ends and not open_undefined:
                break  # the header ends here
            if length == _UNDEFINED:  # encapsulated (an icon's): skip its fragments
                position = _skip_fragments(data, start, tag_length)
                continue
        if length == _UNDEFINED:
            # A sequence (SQ, or UN/implicit of undefined length): its items follow.
            open_undefined += 1
            position = start
        elif vr == b"SQ" or (implicit and _could_be_sequence(data, start, length, tag_length)):
            ends.append(start + length)
            position = start
        else:
            position = start + length
    return count


def _could_be_sequence(data: bytes | mmap.mmap, start: int, length: int, tag_length: struct.Struct) -> bool:
    """In implicit VR a defined-length sequence is known only by its first item tag."""
    if length < 8 or start + 8 > len(data):
        return False
    group, element, _ = tag_length.unpack_from(data, start)
    return group == _ITEM_GROUP and element == 0xE000


def _skip_fragments(data: bytes | mmap.mmap, position: int, tag_length: struct.Struct) -> int:
    size = len(data)
    while position + 8 <= size:
        group, element, length = tag_length.unpack_from(data, position)
        position += 8
        if group != _ITEM_GROUP or element == _SEQUENCE_END:
            return position
        if length == _UNDEFINED:
            return size
        position += length
    return position

"""A lean reader for the common case: the header of a little endian file, up to its pixel data.

pydicom's reader spends most of its time on per-element bookkeeping we do
not need (the engine only wants raw tag / VR / value bytes). This reader
walks the element headers itself and builds the same pydicom Dataset of
RawDataElements that pydicom's reader would, about 2.5 times faster.
It handles explicit and implicit VR little endian, with or without a file
meta, undefined-length sequences at any depth, and stops at the pixel
data. Whenever something is unusual (big endian, deflate, an unknown VR,
a VR switch inside the data set, a damaged length, the end of the file)
it returns None and the engine falls back to pydicom's reader, which also
decides between "truncated" and "not DICOM".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from .errors import TooComplexError

__all__ = ["FastHeader", "read_header_fast"]

_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHL")
_LONG = struct.Struct("<L")
_LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_KNOWN_VRS = _LONG_LENGTH_VRS | frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL",
     b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_VR_TEXT = {vr: vr.decode() for vr in _KNOWN_VRS}
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_UNDEFINED = 0xFFFFFFFF
_SPECIFIC_CHARACTER_SET = BaseTag(0x00080005)
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_CHUNK = 1 << 16
# Real objects nest sequences a handful of levels deep (enhanced multi-frame: 3 or 4); a crafted file
# nests thousands to exhaust the stack. Deeper than this is refused, not parsed.
MAX_SEQUENCE_DEPTH = 32


class _Unusual(Exception):
    """Leave this file to pydicom's reader."""


@dataclass
class FastHeader:
    dataset: Dataset
    has_preamble: bool
    meta: dict[str, str]  # TransferSyntaxUID, MediaStorageSOPClassUID, MediaStorageSOPInstanceUID
    pixel_position: int  # where the pixel data element starts, or the file size if there is none


class _Buffer:
    """The file from offset 0, read on demand (headers are small, pixel data is never read here)."""

    def __init__(self, fp: BinaryIO, size: int) -> None:
        self.fp = fp
        self.size = size
        fp.seek(0)
        self.data = fp.read(min(_CHUNK, size))

    def need(self, end: int) -> bytes:
        if end > len(self.data):
            if end > self.size:
                raise _Unusual  # runs past the end of the file: pydicom decides what it is
            self.data += self.fp.read(max(end - len(self.data), len(self.data)))
            if end > len(self.data):
                raise _Unusual
        return self.data


def _meta_value(raw: bytes) -> str:
    return raw.decode("latin-1").strip(" \x00")


def read_header_fast(fp: BinaryIO, size: int) -> FastHeader | None:
    """Read the header of the file open in `fp`, or return None when pydicom's reader should do it."""
    try:
        return _read(fp, size)
    except (_Unusual, struct.error):
        return None


def _read(fp: BinaryIO, size: int) -> FastHeader:
    buffer = _Buffer(fp, size)
    data = buffer.need(8)
    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    position = 132 if has_preamble else 0
    meta: dict[str, str] = {}
    # File meta: explicit VR little endian, group 0002.
    while True:
        data = buffer.need(position + 8)
        group, element, vr, length = _EXPLICIT.unpack_from(data, position)
        if group != 0x0002:
            break
        if vr not in _KNOWN_VRS:
            raise _Unusual
        if vr in _LONG_LENGTH_VRS:
            data = buffer.need(position + 12)
            length = _LONG.unpack_from(data, position + 8)[0]
            start = position + 12
        else:
            start = position + 8
        if length == _UNDEFINED:
            raise _Unusual
        data = buffer.need(start + length)
        if element in (0x0002, 0x0003, 0x0010):
            name = {0x0002: "MediaStorageSOPClassUID", 0x0003: "MediaStorageSOPInstanceUID",
                    0x0010: "TransferSyntaxUID"}[element]
            meta[name] = _meta_value(data[start:start + length])
        position = start + length
    syntax = meta.get("TransferSyntaxUID", "")
    if syntax in (_BIG_ENDIAN, _DEFLATED) or (not syntax and meta):
        raise _Unusual
    first_vr = data[position + 4:position + 6]
    looks_explicit = first_vr in _KNOWN_VRS
    if syntax == _IMPLICIT_LE or (not syntax and not looks_explicit):
        implicit = True
    elif syntax:
        implicit = False
    else:
        implicit = False  # no file meta, explicit VR: pydicom's own guess, made the same way
    if implicit == looks_explicit:
        raise _Unusual  # the data set is not encoded the way the transfer syntax says
    if syntax and syntax not in (_IMPLICIT_LE, _EXPLICIT_LE) and not syntax.startswith("1.2.840.10008.1.2.4") \
            and not syntax.startswith("1.2.840.10008.1.2.5"):
        raise _Unusual  # private or unusual syntax: let pydicom decide the encoding
    elements, pixel_position = _elements(buffer, position, implicit, top=True)
    dataset = Dataset(elements)
    charset_item = elements.get(_SPECIFIC_CHARACTER_SET)
    charset_value = b"" if charset_item is None else (charset_item.value or b"")
    names = [part.strip(" \x00") for part in charset_value.decode("latin-1").split("\\")] if charset_value else [""]
    try:
        encodings = convert_encodings(names if len(names) > 1 else names[0])
    except (LookupError, ValueError):
        raise _Unusual from None  # a damaged character set (a NUL in it): pydicom's reader decides
    dataset.set_original_encoding(implicit, True, encodings)
    return FastHeader(dataset, has_preamble, meta, pixel_position)


def _elements(
    buffer: _Buffer, position: int, implicit: bool, *, top: bool
) -> tuple[dict[BaseTag, DataElement | RawDataElement], int]:
    """Parse elements from `position` to the pixel data (top level) or the end of the file.

    The elements are raw; the dict is typed as the Dataset's own, which it becomes (pydicom
    replaces a raw element by a DataElement when its value is read).
    """
    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    size = buffer.size
    data = buffer.data
    available = len(data)
    unpack_implicit, unpack_explicit, unpack_long = _IMPLICIT.unpack_from, _EXPLICIT.unpack_from, _LONG.unpack_from
    long_vrs, vr_text_of = _LONG_LENGTH_VRS, _VR_TEXT
    while position < size:
        # The lengths are checked against the bytes at hand inline: this loop
        # runs once per element of every file.
        if position + 12 > available:
            if size - position < 8:
                raise _Unusual  # a piece of an element header: truncated
            data = buffer.need(min(position + 12, size))
            available = len(data)
        if implicit:
            group, element, length = unpack_implicit(data, position)
            vr_text = None
            start = position + 8
        else:
            group, element, vr, length = unpack_explicit(data, position)
            vr_text = vr_text_of.get(vr)
            if vr_text is None:
                raise _Unusual
            if vr in long_vrs:
                if position + 12 > available:
                    raise _Unusual
                length = unpack_long(data, position + 8)[0]
                start = position + 12
            else:
                start = position + 8
        tag = group << 16 | element
        if top and tag in _PIXEL_TAGS:
            return elements, position
        if group in (0xFFFE, 0x0002):
            raise _Unusual
        if length == _UNDEFINED:
            end = _skip_items(buffer, start, implicit, 1)
            data = buffer.data
            available = len(data)
            value = data[start:end - 8]  # the items, without the Sequence Delimitation Item
            if vr_text == "UN":
                vr_text = "SQ"  # PS3.5 6.2.2: UN of undefined length is a sequence in implicit VR
            position = end
        else:
            position = start + length
            if position > available:
                data = buffer.need(position)
                available = len(data)
            value = data[start:position]
        key = BaseTag(tag)
        elements[key] = RawDataElement(key, vr_text, len(value), value, start, implicit, True)
    return elements, size


def _skip_items(buffer: _Buffer, position: int, implicit: bool, depth: int) -> int:
    """Return the position after the Sequence Delimitation Item of an undefined-length value at `position`."""
    if depth > MAX_SEQUENCE_DEPTH:
        raise TooComplexError(f"its sequences are nested more than {MAX_SEQUENCE_DEPTH} levels deep; no real "
                              "DICOM object is")
    while True:
        data = buffer.need(position + 8)
        group, element, length = _IMPLICIT.unpack_from(data, position)
        tag = group << 16 | element
        position += 8
        if tag == _SEQUENCE_END:
            return position
        if tag != _ITEM:
            raise _Unusual
        if length != _UNDEFINED:
            buffer.need(position + length)
            position += length
            continue
        position = _skip_item_content(buffer, position, implicit, depth)


def _skip_item_content(buffer: _Buffer, position: int, implicit: bool, depth: int) -> int:
    """Skip the elements of an undefined-length item; return the position after its Item Delimitation Item."""
    while True:
        data = buffer.need(position + 8)
        if implicit:
            group, element, length = _IMPLICIT.unpack_from(data, position)
            header = 8
        else:
            group, element, vr, length = _EXPLICIT.unpack_from(data, position)
            header = 8
            if group == 0xFFFE:
                length = _IMPLICIT.unpack_from(data, position)[2]
            elif vr in _LONG_LENGTH_VRS:
                data = buffer.need(position + 12)
                length = _LONG.unpack_from(data, position + 8)[0]
                header = 12
            elif vr not in _KNOWN_VRS:
                raise _Unusual
        tag = group << 16 | element
        position += header
        if tag == _ITEM_END:
            return position
        if length == _UNDEFINED:
            position = _skip_items(buffer, position, implicit, depth + 1)
        else:
            buffer.need(position + length)
            position += length

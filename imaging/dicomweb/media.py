"""Content negotiation and multipart/related bodies for DICOMweb (PS3.18 8.7). Pure: no Django.

A client says what it accepts as media ranges such as
`multipart/related; type="application/dicom"; transfer-syntax=*`. The server offers each
resource in a few representations (as stored, or transcoded to Explicit VR Little Endian) and
answers with the first one the client accepts, or 406 when none fits.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
NATIVE_SYNTAXES = frozenset({
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    EXPLICIT_VR_LITTLE_ENDIAN,
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian (frames are native once inflated)
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
})
# Media types of compressed frames (PS3.18 Table 8.7.3-5).
FRAME_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}
# The transfer syntax a compressed media type means when the client names none (PS3.18 8.7.3.5).
DEFAULT_SYNTAX_OF_MEDIA = {
    "image/jpeg": "1.2.840.10008.1.2.4.70",
    "image/jls": "1.2.840.10008.1.2.4.80",
    "image/jp2": "1.2.840.10008.1.2.4.90",
    "image/jpx": "1.2.840.10008.1.2.4.92",
    "image/jphc": "1.2.840.10008.1.2.4.201",
    "image/dicom-rle": "1.2.840.10008.1.2.5",
    "application/octet-stream": EXPLICIT_VR_LITTLE_ENDIAN,
    "application/dicom": EXPLICIT_VR_LITTLE_ENDIAN,
}


@dataclass(frozen=True)
class MediaRange:
    """One element of an Accept header; for multipart/related, `type` is its `type` parameter."""

    type: str
    transfer_syntax: str | None = None
    multipart: bool = False
    q: float = 1.0
    params: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Offer:
    """A representation the server can produce: media type, transfer syntax, and whether it costs a transcode."""

    media_type: str
    transfer_syntax: str
    transcode: bool = False


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside double quotes."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an Accept header, most preferred first (no header: anything)."""
    if not header or not header.strip():
        return [MediaRange("*/*")]
    ranges: list[tuple[float, int, MediaRange]] = []
    for position, item in enumerate(_split(header, ",")):
        pieces = [p.strip() for p in _split(item, ";")]
        main = pieces[0].lower()
        if not main:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        multipart = main == "multipart/related"
        media = params.get("type", "*/*").lower() if multipart else main
        if media == "*":
            media = "*/*"
        ranges.append((q, position, MediaRange(media, params.get("transfer-syntax"), multipart, q, params)))
    ranges.sort(key=lambda row: (-row[0], row[1]))
    return [r for q, _, r in ranges if q > 0]


def media_matches(pattern: str, media_type: str) -> bool:
    if pattern in ("*/*", media_type):
        return True
    major, _, minor = pattern.partition("/")
    return minor == "*" and media_type.startswith(major + "/")


def choose(accepted: Iterable[MediaRange], offers: list[Offer]) -> Offer | None:
    """The first offer, in the client's order of preference, that the client accepts.

    A range without transfer-syntax accepts the media type's default syntax (Explicit VR Little
    Endian for application/dicom and application/octet-stream), except that `*/*` accepts
    anything; `transfer-syntax=*` accepts any syntax, preferring offers that need no transcode.
    """
    for wanted in accepted:
        candidates = [o for o in offers if media_matches(wanted.type, o.media_type)]
        if wanted.transfer_syntax == "*" or (wanted.transfer_syntax is None and wanted.type == "*/*"):
            candidates.sort(key=lambda o: o.transcode)
            if candidates:
                return candidates[0]
            continue
        for offer in candidates:
            syntax = wanted.transfer_syntax or DEFAULT_SYNTAX_OF_MEDIA.get(offer.media_type)
            if syntax is None or syntax == offer.transfer_syntax:
                return offer
    return None


def new_boundary() -> str:
    return f"ictms-{secrets.token_hex(12)}"


def multipart_content_type(media_type: str, boundary: str) -> str:
    return f'multipart/related; type="{media_type}"; boundary={boundary}'


def multipart_body(parts: Iterable[tuple[bytes, str]], boundary: str) -> Iterator[bytes]:
    """The body of a multipart/related message, part by part (each as (data, its Content-Type))."""
    marker = f"--{boundary}".encode()
    for data, content_type in parts:
        yield marker + b"\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n"
        yield data
        yield b"\r\n"
    yield marker + b"--\r\n"

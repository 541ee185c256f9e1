"""DICOMweb content negotiation and multipart bodies (pure, no database)."""
from __future__ import annotations

from imaging.dicomweb.media import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    MediaRange,
    Offer,
    choose,
    multipart_body,
    multipart_content_type,
    parse_accept,
)

J2K = "1.2.840.10008.1.2.4.90"
STORED_J2K = [Offer("image/jp2", J2K), Offer("application/octet-stream", J2K),
              Offer("application/octet-stream", EXPLICIT_VR_LITTLE_ENDIAN, transcode=True)]


def test_accept_headers_are_parsed_with_quoted_parameters_and_quality():
    ranges = parse_accept('multipart/related; type="application/dicom"; transfer-syntax=*; q=0.5, '
                          'multipart/related; type="application/dicom, odd"; q=0.9, image/png')
    assert ranges[0] == MediaRange("image/png")
    assert ranges[1].type == "application/dicom, odd" and ranges[1].multipart
    assert ranges[2] == MediaRange("application/dicom", "*", True, 0.5)
    assert parse_accept(None) == [MediaRange("*/*")] == parse_accept("  ")
    assert parse_accept("image/png; q=0") == []


def test_no_transfer_syntax_means_the_default_one():
    wanted = parse_accept('multipart/related; type="application/octet-stream"')
    assert choose(wanted, STORED_J2K) == STORED_J2K[2]  # decoded to Explicit VR Little Endian


def test_any_transfer_syntax_prefers_what_needs_no_transcoding():
    wanted = parse_accept('multipart/related; type="application/octet-stream"; transfer-syntax=*')
    assert choose(wanted, STORED_J2K) == STORED_J2K[1]
    assert choose(parse_accept("*/*"), STORED_J2K) == STORED_J2K[0]


def test_compressed_media_types_and_explicit_syntaxes():
    assert choose(parse_accept('multipart/related; type="image/jp2"'), STORED_J2K) == STORED_J2K[0]
    assert choose(parse_accept('multipart/related; type="image/*"'), STORED_J2K) == STORED_J2K[0]
    assert choose(parse_accept('multipart/related; type="image/jpeg"'), STORED_J2K) is None
    assert choose(parse_accept(f'multipart/related; type="application/octet-stream"; transfer-syntax={J2K}'),
                  STORED_J2K) == STORED_J2K[1]


def test_multipart_bodies_are_framed_by_the_boundary():
    body = b"".join(multipart_body([(b"one", "application/dicom"), (b"two", "application/dicom")], "B"))
    assert body == (b"--B\r\nContent-Type: application/dicom\r\n\r\none\r\n"
                    b"--B\r\nContent-Type: application/dicom\r\n\r\ntwo\r\n--B--\r\n")
    assert multipart_content_type("application/dicom", "B") == 'multipart/related; type="application/dicom"; boundary=B'

"""Fuzzing the readers of untrusted uploads: real DICOM files nobody here wrote, damaged on purpose.

pydicom's own test files (several transfer syntaxes, sequences, deflate, no file meta, big endian,
ultrasound) are mutated by hypothesis: bytes flipped, files cut, chunks inserted or duplicated,
length fields set to 0, huge values or 0xFFFFFFFF, tags and VRs changed, deeply nested sequences
inserted. The header reader, the element / inflation bounds, deidentify_file and the zip expander
(on zips of such members, with their headers, sizes, CRCs and methods damaged too) must either
succeed or refuse with their documented refusal types, within a bound of time and memory per input.
A de-identified output must read back with pydicom.

The run is derandomized (the same examples on every run, so CI is repeatable); `FUZZ_EXAMPLES=5000`
raises the number of examples per test for a long local run. Every crash found became a fix in the
product and an @example below.
"""
from __future__ import annotations

import io
import os
import resource
import struct
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from types import FrameType

import pydicom
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file

from imaging.deid import (
    DeidContext,
    DeidError,
    DeidOptions,
    PixelRule,
    RedactionRegion,
    SkippedFile,
    TooComplexError,
    deidentify_file,
)
from imaging.deid.bounds import check_file
from imaging.deid.fastread import FastHeader, read_header_fast
from imaging.intake.files import ArchiveLimits, ArchiveRefused, MemberRefused, extract_member, inspect_archive

# Per input: far above what any of these inputs needs (milliseconds, a few MB), far below a runaway.
TIME_BOUND = 10.0  # seconds, checked on every call; hypothesis' deadline below is the same bound
MEMORY_BOUND = 192 * 2**20  # peak bytes traced while one input is processed
ADDRESS_SPACE_HEADROOM = 2 * 2**30  # what the process may grow by meanwhile: more fails with MemoryError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz_settings(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=timedelta(seconds=TIME_BOUND),
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# --------------------------------------------------------------------------- the real files

# pydicom's test files (pydicom and pydicom-data wheels): name -> what makes it worth mutating.
SOURCES = {
    "CT_small.dcm": "explicit VR little endian",
    "MR_small.dcm": "explicit VR little endian",
    "MR_small_implicit.dcm": "implicit VR little endian",
    "MR_small_bigendian.dcm": "explicit VR big endian (pydicom's reader)",
    "MR_small_RLE.dcm": "RLE lossless",
    "emri_small.dcm": "multi-frame MR",
    "JPEG2000.dcm": "JPEG 2000, secondary capture (decoded for redaction)",
    "SC_rgb_small_odd_jpeg.dcm": "JPEG baseline, odd size, colour",
    "SC_rgb_small_odd.dcm": "native colour, odd size",
    "JPEGLSNearLossless_08.dcm": "JPEG-LS",
    "US1_J2KR.dcm": "ultrasound, JPEG 2000, a shipped redaction rule matches",
    "rtplan.dcm": "implicit VR, nested sequences",
    "test-SR.dcm": "structured report, deep content sequences",
    "nested_priv_SQ.dcm": "private sequences in private sequences",
    "image_dfl.dcm": "deflated explicit VR little endian",
    "ExplVR_BigEndNoMeta.dcm": "no file meta, big endian",
}
DEFLATED = "1.2.840.10008.1.2.1.99"
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN",
                        b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"})


@dataclass(frozen=True)
class Source:
    """A real file and where its structure sits, so that mutations hit length fields and element boundaries.

    For a deflated file, `body` is the inflated data set and the structured mutations apply to it
    before it is deflated again (otherwise they would only ever damage the zlib stream).
    """

    name: str
    prefix: bytes  # bytes kept as they are before `body`: the preamble and file meta of a deflated file
    body: bytes
    implicit: bool
    little_endian: bool
    lengths: tuple[tuple[int, str], ...]  # (offset, struct format) of every element's and item's length field
    boundaries: tuple[int, ...]  # where an element or item header starts

    def assemble(self, body: bytes) -> bytes:
        if not self.prefix:
            return body
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        return self.prefix + compressor.compress(body) + compressor.flush()


def _walk(data: bytes, position: int, implicit: bool, little: bool, *, meta: bool
          ) -> tuple[list[tuple[int, str]], list[int], int]:
    """Element headers from `position`, descending into sequences, items and encapsulated fragments."""
    order = "<" if little else ">"
    lengths: list[tuple[int, str]] = []
    boundaries: list[int] = []
    fragments = False
    while position + 8 <= len(data):
        group, element = struct.unpack_from(order + "HH", data, position)
        if meta and group != 0x0002:
            break
        boundaries.append(position)
        if group == 0xFFFE:
            lengths.append((position + 4, order + "L"))
            length = struct.unpack_from(order + "L", data, position + 4)[0]
            position += 8
            if element == 0xE0DD:
                fragments = False
            elif fragments and element == 0xE000 and length != _UNDEFINED:
                position += length
            continue
        vr = data[position + 4:position + 6]
        if implicit:
            lengths.append((position + 4, order + "L"))
            length, start = struct.unpack_from(order + "L", data, position + 4)[0], position + 8
        elif vr in _LONG_VRS and position + 12 <= len(data):
            lengths.append((position + 8, order + "L"))
            length, start = struct.unpack_from(order + "L", data, position + 8)[0], position + 12
        elif vr in _SHORT_VRS:
            lengths.append((position + 6, order + "H"))
            length, start = struct.unpack_from(order + "H", data, position + 6)[0], position + 8
        else:
            break
        item_next = data[start:start + 4] in (b"\xfe\xff\x00\xe0", b"\xff\xfe\xe0\x00")
        if length == _UNDEFINED:
            fragments = group << 16 | element == 0x7FE00010
            position = start
        elif vr == b"SQ" or (implicit and item_next):
            position = start
        else:
            position = start + length
    return lengths, boundaries, position


@cache
def source(name: str) -> Source:
    path = get_testdata_file(name)
    assert path is not None, f"{name} ships with pydicom / pydicom-data"
    data = Path(str(path)).read_bytes()
    start = 132 if data[128:132] == b"DICM" else 0
    meta_lengths, meta_boundaries, body_start = _walk(data, start, False, True, meta=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True)
    syntax = str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or "")
    if syntax == DEFLATED:
        body = zlib.decompress(data[body_start:], -zlib.MAX_WBITS)
        lengths, boundaries, _ = _walk(body, 0, False, True, meta=False)
        return Source(name, data[:body_start], body, False, True, tuple(lengths), tuple(boundaries))
    implicit, little = dataset.original_encoding
    lengths, boundaries, _ = _walk(data, body_start, bool(implicit), bool(little), meta=False)
    return Source(name, b"", data, bool(implicit), bool(little), tuple(meta_lengths + lengths),
                  tuple(meta_boundaries + boundaries))


# --------------------------------------------------------------------------- mutations

def _nesting(levels: int, *, defined: bool, implicit: bool, little: bool) -> bytes:
    """`levels` ContentSequences, one in the single item of the other, around a CodeMeaning."""
    order = "<" if little else ">"

    def header(group: int, element: int, vr: bytes, length: int) -> bytes:
        if implicit:
            return struct.pack(order + "HHL", group, element, length)
        if vr in _LONG_VRS:
            return struct.pack(order + "HH2sHL", group, element, vr, 0, length)
        return struct.pack(order + "HH2sH", group, element, vr, length)

    def item(length: int) -> bytes:
        return struct.pack(order + "HHL", 0xFFFE, 0xE000, length)

    leaf = header(0x0008, 0x0104, b"LO", 4) + b"leaf"
    if defined:
        inner = leaf
        for _ in range(levels):
            content = item(len(inner)) + inner
            inner = header(0x0040, 0xA730, b"SQ", len(content)) + content
        return inner
    close = struct.pack(order + "HHL", 0xFFFE, 0xE00D, 0) + struct.pack(order + "HHL", 0xFFFE, 0xE0DD, 0)
    return (header(0x0040, 0xA730, b"SQ", _UNDEFINED) + item(_UNDEFINED)) * levels + leaf + close * levels


def mutate(data: bytes, mutations: tuple[tuple, ...]) -> bytes:
    """Apply `mutations` in order; positions wrap around the current length, so any tuple is valid."""
    out = bytearray(data)
    for mutation in mutations:
        kind, *args = mutation
        size = len(out)
        if kind == "flip" and size:
            out[args[0] % size] ^= args[1] or 0xFF
        elif kind == "truncate":
            del out[args[0] % (size + 1):]
        elif kind == "delete" and size:
            position = args[0] % size
            del out[position:position + args[1]]
        elif kind == "insert":
            position = args[0] % (size + 1)
            out[position:position] = args[1]
        elif kind == "duplicate" and size:
            start = args[0] % size
            chunk = bytes(out[start:start + args[1]])
            position = args[2] % (size + 1)
            out[position:position] = chunk * args[3]
        elif kind == "length":
            offset, fmt, value = args
            if offset + struct.calcsize(fmt) <= size:
                struct.pack_into(fmt, out, offset, value % (1 << (8 * struct.calcsize(fmt))))
        elif kind == "tag":
            offset, order, group, element = args
            if offset + 4 <= size:
                struct.pack_into(order + "HH", out, offset, group, element)
        elif kind == "vr":
            offset, vr = args
            if offset + 6 <= size:
                out[offset + 4:offset + 6] = vr
        elif kind == "nest":
            offset, levels, defined, implicit, little = args
            position = min(offset, size)
            out[position:position] = _nesting(levels, defined=defined, implicit=implicit, little=little)
    return bytes(out)


_SPECIAL_LENGTHS = (0, 1, 2, 0xFFFF, 0xFFFE, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, _UNDEFINED)
_TAGS = ((0x7FE0, 0x0010), (0xFFFE, 0xE000), (0xFFFE, 0xE00D), (0xFFFE, 0xE0DD), (0x0002, 0x0010), (0x0008, 0x0005),
         (0x0008, 0x0016), (0x0008, 0x0018), (0x0004, 0x1220), (0x0028, 0x0010), (0x0028, 0x0008), (0x5200, 0x9230),
         (0x0040, 0xA730), (0x0009, 0x0010), (0x0000, 0x0000))
_VRS = (b"SQ", b"UN", b"OB", b"OW", b"UT", b"UL", b"US", b"AT", b"FD", b"PN", b"UI", b"CS", b"XX", b"\x00\x00")


def raw_mutations(size: int) -> st.SearchStrategy[tuple]:
    """Mutations that know nothing of the format."""
    position = st.integers(0, max(size, 1))
    return st.one_of(
        st.tuples(st.just("flip"), position, st.integers(1, 255)),
        st.tuples(st.just("truncate"), position),
        st.tuples(st.just("delete"), position, st.integers(1, 256)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=32)),
        st.tuples(st.just("duplicate"), position, st.integers(1, 512), position, st.integers(1, 4)),
    )


def structured_mutations(src: Source) -> st.SearchStrategy[tuple]:
    """Mutations aimed at the file's length fields, tags, VRs and element boundaries."""
    order = "<" if src.little_endian else ">"
    choices = [raw_mutations(len(src.body))]
    if src.lengths:
        field = st.sampled_from(src.lengths)
        choices.append(st.builds(
            lambda f, value: ("length", f[0], f[1], value),
            field, st.one_of(st.sampled_from(_SPECIAL_LENGTHS), st.integers(0, 2 * len(src.body)),
                             st.integers(0, _UNDEFINED)),
        ))
    if src.boundaries:
        boundary = st.sampled_from(src.boundaries)
        choices.append(st.builds(lambda at, tag: ("tag", at, order, *tag), boundary, st.sampled_from(_TAGS)))
        if not src.implicit:
            choices.append(st.builds(lambda at, vr: ("vr", at, vr), boundary, st.sampled_from(_VRS)))
        choices.append(st.builds(
            lambda at, levels, defined: ("nest", at, levels, defined, src.implicit, src.little_endian),
            boundary, st.one_of(st.integers(1, 8), st.integers(30, 34), st.just(200)), st.booleans(),
        ))
    return st.one_of(*choices)


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, tuple[tuple, ...], tuple[tuple, ...]]:
    """(source name, structured mutations of its body, raw mutations of the assembled file)."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    src = source(name)
    structured = tuple(draw(st.lists(structured_mutations(src), min_size=1, max_size=4)))
    raw = tuple(draw(st.lists(raw_mutations(len(src.body)), max_size=1 if src.prefix else 0)))
    return name, structured, raw


def build(case: tuple[str, tuple[tuple, ...], tuple[tuple, ...]]) -> bytes:
    name, structured, raw = case
    src = source(name)
    return mutate(src.assemble(mutate(src.body, structured)), raw)


# --------------------------------------------------------------------------- bounds

@contextmanager
def _address_space_limit() -> Iterator[None]:
    """Let this process grow by at most ADDRESS_SPACE_HEADROOM while an input is processed (Linux).

    Without it, an input that makes the code allocate and fill gigabytes takes the CI machine down
    before any assertion runs; with it, that allocation fails with MemoryError, which bounded() reports.
    """
    try:
        with open("/proc/self/statm") as statm:
            size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + ADDRESS_SPACE_HEADROOM
    for bound in (soft, hard):
        if bound != resource.RLIM_INFINITY:
            limit = min(limit, bound)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def bounded() -> Iterator[None]:
    """Fail when what runs inside takes longer than TIME_BOUND, allocates more than MEMORY_BOUND at its peak,
    or tries to allocate more than the address space allows (a MemoryError, even one the code caught).

    Memory is traced only while the input is processed (tracing hypothesis too would make the run
    ten times slower); the tracer sees exceptions only, not lines, and costs little.
    """
    failed: list[str] = []

    def tracer(frame: FrameType, event: str, arg: object) -> object:
        if event == "call":
            frame.f_trace_lines = False
        elif event == "exception" and isinstance(arg, tuple) and issubclass(arg[0], MemoryError) and not failed:
            failed.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")
        return tracer

    tracing = tracemalloc.is_tracing()  # python -X tracemalloc: measured from what is held now
    if tracing:
        tracemalloc.reset_peak()
    else:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    previous_trace = sys.gettrace()
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(), _address_space_limit():
            warnings.simplefilter("ignore")  # pydicom warns about what these inputs get wrong
            sys.settrace(tracer)
            yield
    finally:
        sys.settrace(previous_trace)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - before
        if not tracing:
            tracemalloc.stop()
    assert not failed, f"an allocation of gigabytes failed at {failed[0]}"
    assert elapsed < TIME_BOUND, f"took {elapsed:.1f} s"
    assert peak < MEMORY_BOUND, f"allocated {peak / 2**20:.0f} MB at its peak"


SECRET = b"0123456789abcdef0123456789abcdef"
_CORNER = PixelRule("fuzz corner", (RedactionRegion(0, 0, 8, 8),))  # matches every image: flagged ones are decoded
CONTEXTS = (
    DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME", protocol_id="P1",
                options=DeidOptions(ocr=False)),
    DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME", protocol_id="P1",
                options=DeidOptions(ocr=False, pixel_rules=(_CORNER,))),
    DeidContext(secret=SECRET, subject_code="101-001", date_offset_days=-700, sponsor_name="ACME", protocol_id="P1",
                options=DeidOptions(ocr=False, retain_uids=True, pixel_rules=(_CORNER,))),
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_the_sources_are_real_files_the_walk_understands(workdir):
    """The mutations are aimed (every source has length fields and element boundaries), an unmutated source is
    the file itself (deflated again for a deflated one), and most sources are de-identified as they are."""
    accepted = 0
    for name in SOURCES:
        src = source(name)
        assert len(src.lengths) >= 5 and len(src.boundaries) >= 5, name
        original = Path(str(get_testdata_file(name))).read_bytes()
        rebuilt = build((name, (), ()))
        if src.prefix:
            assert zlib.decompress(rebuilt[len(src.prefix):], -zlib.MAX_WBITS) == src.body, name
        else:
            assert rebuilt == original, name
        path = workdir / "source.dcm"
        path.write_bytes(rebuilt)
        with suppress(DeidError):
            deidentify_file(path, io.BytesIO(), CONTEXTS[0])
            accepted += 1
    assert accepted >= len(SOURCES) - 2  # nested_priv_SQ.dcm has no SOP Class UID


# --------------------------------------------------------------------------- (a) the header reader and the bounds

@fuzz_settings(800)
@given(case=damaged_files())
@example(case=("JPEG2000.dcm", (("tag", 1092, "<", 0x0008, 0x0005),), ()))
def test_the_header_reader_and_the_bounds_only_refuse(case):
    data = build(case)
    with bounded():
        with suppress(TooComplexError):
            check_file(io.BytesIO(data), len(data))
        try:
            header = read_header_fast(io.BytesIO(data), len(data))
        except TooComplexError:
            header = None
    assert header is None or isinstance(header, FastHeader)
    if header is not None:
        assert 0 <= header.pixel_position <= len(data)


# --------------------------------------------------------------------------- (b) de-identification

def _decode_every_value(dataset: pydicom.Dataset) -> None:
    for tag in list(dataset.keys()):
        try:
            element = dataset[tag]
        except AttributeError as error:
            # pydicom resolves the "US or SS" VR of implicit VR values from PixelRepresentation: when a
            # mutation took that away, the input cannot say either, and the engine does not invent one.
            if "ambiguous VR" in str(error):
                continue
            raise
        if element.VR == "SQ":
            for item in element.value:
                _decode_every_value(item)


def _check_output(output: bytes, result) -> None:
    """The output reads back with pydicom, every value of it, and is what the result says."""
    back = pydicom.dcmread(io.BytesIO(output))
    _decode_every_value(back)
    assert back.file_meta.TransferSyntaxUID == result.transfer_syntax_uid
    # str(): a retained SOP Instance UID whose VR a mutation changed (to US, say) is kept as received.
    assert str(back.SOPInstanceUID) == result.sop_instance_uid
    assert len(output) == result.size


# What the fuzzing found (each crashed or broke a bound before its fix in imaging/deid):
REGRESSIONS = (
    # A length cut by one: pydicom's reader met a length of ~4 GB and read(length) of the real file
    # allocated it before reading (288 MB traced here, gigabytes on other flips).
    (("CT_small.dcm", (("flip", 776, 1),), ()), 0),
    # SH flipped to "RH", an empty value: pydicom keeps the unknown VR and raised NotImplementedError
    # as soon as the element was looked at (the engine's identity lookup).
    (("MR_small.dcm", (("flip", 576, 1),), ()), 0),
    # The same in the file meta (a big endian file: pydicom's reader): MediaStorageSOPClassUID's VR "U\xfe".
    (("MR_small_bigendian.dcm", (("flip", 163, 0xB7),), ()), 0),
    # A fragment length of 0: what follows the pixel data is read as elements, one of them a
    # Sequence Delimitation Item without a VR; checking it raised NotImplementedError.
    (("JPEGLSNearLossless_08.dcm", (("length", 556, "<L", 0),), ()), 0),
    # A byte of the SOP Class UID, of the transfer syntax UID, of a retained SOP Instance UID made
    # non-ASCII: writing the file meta raised UnicodeEncodeError.
    (("SC_rgb_small_odd_jpeg.dcm", (("flip", 418, 0x80),), ()), 0),
    (("JPEGLSNearLossless_08.dcm", (("flip", 292, 0x80),), ()), 0),
    (("MR_small.dcm", (("flip", 470, 0x80),), ()), 2),
    # Rows and Columns of a compressed ultrasound image set to 65535 (the "length" mutation writes any
    # number): Clean Pixel Data decoded what the header declared, 12 GB for 150 KB of JPEG 2000.
    (("US1_J2KR.dcm", (("length", 1352, "<H", 0xFFFF), ("length", 1362, "<H", 0xFFFF)), ()), 1),
    # SOPClassUID's VR set to FD: the element was kept as FD with 26 bytes, an output pydicom cannot decode.
    (("CT_small.dcm", (("vr", 440, b"FD"),), ()), 0),
    # A flipped length in a deflated data set: a PatientName of 262 KB, compiled into the scrubber's expression
    # (4 to 14 s here; minutes and gigabytes for a few MB, quadratic in a surname's length).
    (("image_dfl.dcm", (("delete", 1125, 143), ("flip", 156, 156)), ()), 0),
    # An element's tag changed to PerFrameFunctionalGroupsSequence: the geometry lookup took its value
    # (a number) for a sequence and raised TypeError.
    (("image_dfl.dcm", (("tag", 436, "<", 0x5200, 0x9230),), ()), 0),
    # A file meta element's tag changed to an Item tag: it was read into the data set, kept (the profile
    # kept any standard tag, FFFE included) and written back as an element pydicom cannot decode.
    (("MR_small_implicit.dcm", (("tag", 272, "<", 0xFFFE, 0xE000),), ()), 0),
    # A sequence's tag changed to SpecificCharacterSet: its bytes (NULs among them) were taken for character
    # set names, and the lean reader raised ValueError (embedded null character) looking them up.
    (("JPEG2000.dcm", (("tag", 1092, "<", 0x0008, 0x0005),), ()), 0),
)


def _regressions(test):
    for case, context in REGRESSIONS:
        test = example(case=case, context=CONTEXTS[context])(test)
    return test


@fuzz_settings(600)
@given(case=damaged_files(), context=st.sampled_from(CONTEXTS))
@_regressions
def test_deidentify_file_succeeds_or_refuses_in_plain_words(case, context, workdir):
    data = build(case)
    path = workdir / "input.dcm"
    path.write_bytes(data)
    out = io.BytesIO()
    refusal: DeidError | SkippedFile | None = None
    with bounded():
        try:
            result = deidentify_file(path, out, context)
        except (DeidError, SkippedFile) as refused:
            refusal = refused
    if refusal is not None:
        assert refusal.reason and refusal.__cause__ is None  # plain words, nothing of pydicom's chained
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_output(out.getvalue(), result)


# --------------------------------------------------------------------------- (c) the zip expander

LIMITS = ArchiveLimits(max_total_bytes=16384 * 2**20, max_members=50000, max_ratio=200, max_member_bytes=4096 * 2**20)
_NAMES = ("IM000001.dcm", "SE000001/IM000002", "DICOMDIR", "__MACOSX/._IM000001", "README.TXT", "inner.zip",
          "../escape.dcm", "/absolute.dcm", "C:/drive.dcm", "dir/", "SMITH^JOHN/1.dcm", "\u00e9t\u00e9.dcm")
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@st.composite
def members(draw: st.DrawFn) -> tuple[str, int, bytes | tuple]:
    name = draw(st.sampled_from(_NAMES))
    method = draw(st.sampled_from(_METHODS))
    kind = draw(st.sampled_from(("dicom", "dicom", "bytes", "empty")))
    if kind == "dicom":
        content: bytes | tuple = draw(damaged_files()) if draw(st.booleans()) else \
            (draw(st.sampled_from(sorted(SOURCES))), (), ())
    elif kind == "bytes":
        content = draw(st.binary(max_size=256))
    else:
        content = b""
    return name, method, content


def _zip(entries: list[tuple[str, int, bytes | tuple]]) -> bytes:
    """A zip of the members: (name, method, bytes or a damaged_files() case, kept as such for a readable repr)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzzing
        for name, method, content in entries:
            data = content if isinstance(content, bytes) else build(content)
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def _zip_fields(data: bytes) -> list[tuple[int, str]]:
    """(offset, format) of the header fields of a zip: local headers, central directory, end record."""
    fields: list[tuple[int, str]] = []
    for signature, layout in (
        (b"PK\x03\x04", ((4, "<H"), (6, "<H"), (8, "<H"), (14, "<L"), (18, "<L"), (22, "<L"), (26, "<H"), (28, "<H"))),
        (b"PK\x01\x02", ((6, "<H"), (8, "<H"), (10, "<H"), (16, "<L"), (20, "<L"), (24, "<L"), (28, "<H"), (30, "<H"),
                         (32, "<H"), (34, "<H"), (38, "<L"), (42, "<L"))),
        (b"PK\x05\x06", ((4, "<H"), (6, "<H"), (8, "<H"), (10, "<H"), (12, "<L"), (16, "<L"), (20, "<H"))),
    ):
        at = data.find(signature)
        while at != -1:
            fields.extend((at + offset, fmt) for offset, fmt in layout)
            at = data.find(signature, at + 4)
    return fields


_ZIP_VALUES = (0, 1, 6, 8, 9, 12, 14, 93, 98, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


@st.composite
def damaged_zips(draw: st.DrawFn) -> tuple[tuple[tuple[str, int, bytes | tuple], ...], tuple[tuple, ...]]:
    entries = tuple(draw(st.lists(members(), min_size=1, max_size=4)))
    archive = _zip(list(entries))
    fields = _zip_fields(archive)
    field = st.sampled_from(fields)
    mutation = st.one_of(
        st.builds(lambda f, value: ("length", f[0], f[1], value), field,
                  st.one_of(st.sampled_from(_ZIP_VALUES), st.integers(0, 0xFFFFFFFF))),
        raw_mutations(len(archive)),
    )
    return entries, tuple(draw(st.lists(mutation, max_size=4)))


def _expand(path: Path, workdir: Path) -> list[Path]:
    """What intake does with an upload that is a zip: inspect, then extract member by member."""
    try:
        listed = inspect_archive(path, LIMITS)
    except ArchiveRefused as refused:
        return _refused(refused, [])
    extracted = []
    try:
        for member in listed:
            target = workdir / f"member-{member.index}"
            try:
                extract_member(path, member, target, LIMITS)
            except MemberRefused as refused:
                assert not target.exists()  # nothing half-written is left for the next stage
                _refused(refused, None)
                continue
            extracted.append(target)
    except ArchiveRefused as refused:
        return _refused(refused, [])
    return extracted


def _refused(refusal: ArchiveRefused | MemberRefused, result: list[Path] | None) -> list[Path]:
    assert refusal.reason and "Error" not in refusal.reason
    return result or []


@fuzz_settings(500)
@given(case=damaged_zips())
# The first byte of a zip deleted: every local header offset points one byte early, the first before the start
# of the file; zipfile seeked there and extract_member raised OSError.
@example(case=((("IM000001.dcm", zipfile.ZIP_STORED, b"DICM" * 16),), (("delete", 0, 1),)))
# "Version needed to extract" 9.3 in the central directory: zipfile raised NotImplementedError while listing it.
@example(case=((("IM000001.dcm", zipfile.ZIP_STORED, b"DICM" * 16),), (("length", 112, "<H", 93),)))
def test_the_zip_expander_only_refuses(case, workdir):
    entries, mutations = case
    path = workdir / "upload.zip"
    path.write_bytes(mutate(_zip(list(entries)), mutations))
    with bounded():
        extracted = _expand(path, workdir)
        for member in extracted:
            with suppress(DeidError, SkippedFile):
                deidentify_file(member, io.BytesIO(), CONTEXTS[1])
            member.unlink()


@pytest.mark.parametrize(("case", "context", "reason"), [
    (REGRESSIONS[4][0], 0, "the file's SOP Class UID is not a valid UID"),
    (REGRESSIONS[5][0], 0, "the file's transfer syntax UID is not a valid UID"),
    (REGRESSIONS[6][0], 2, "the file's SOP Instance UID is not a valid UID"),
], ids=["sop-class", "transfer-syntax", "retained-sop-instance"])
def test_a_uid_that_cannot_be_written_is_refused_by_name(case, context, reason, workdir):
    path = workdir / "uid.dcm"
    path.write_bytes(build(case))
    with pytest.raises(DeidError) as refused:
        deidentify_file(path, io.BytesIO(), CONTEXTS[context])
    assert refused.value.reason == reason


def test_an_unknown_vr_is_read_as_un_and_the_output_reads_back(workdir):
    path = workdir / "vr.dcm"
    path.write_bytes(build(REGRESSIONS[1][0]))  # AccessionNumber's SH became "RH"
    out = io.BytesIO()
    result = deidentify_file(path, out, CONTEXTS[0])
    back = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert back.AccessionNumber == "" and back.SOPInstanceUID == result.sop_instance_uid


def test_a_compressed_image_declaring_far_more_pixels_than_it_holds_is_not_decoded(workdir, monkeypatch):
    from imaging.deid import pixels

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(pixels, "_decoded", no_decoding)
    path = workdir / "bomb.dcm"
    path.write_bytes(build(REGRESSIONS[7][0]))
    result = deidentify_file(path, io.BytesIO(), CONTEXTS[1])
    assert result.review_required and "far more pixels" in result.burned_in.note


def test_a_value_that_does_not_fit_its_vr_is_written_with_the_standard_one(workdir):
    path = workdir / "fd.dcm"
    path.write_bytes(build(REGRESSIONS[8][0]))  # SOPClassUID sent as FD, 26 bytes
    out = io.BytesIO()
    result = deidentify_file(path, out, CONTEXTS[0])
    back = pydicom.dcmread(io.BytesIO(out.getvalue()))
    assert back["SOPClassUID"].VR == "UI" and back.SOPClassUID == result.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize("keyword", ["PatientName", "PatientID"])
def test_names_and_ids_longer_than_any_real_one_are_refused_before_they_are_compiled(keyword, workdir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        setattr(ds, keyword, "DOE" * 400)
        path = workdir / "long.dcm"
        ds.save_as(path)
    with pytest.raises(TooComplexError) as refused:
        deidentify_file(path, io.BytesIO(), CONTEXTS[0])
    assert "longer than in any real DICOM object" in refused.value.reason


def test_a_real_name_is_well_inside_the_bound(workdir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        ds.PatientName = "=".join(["VAN DER BERG-ESPOSITO^MARIA-ALEXANDRA^JOSEPHINE^DR^PHD"] * 3)
        path = workdir / "name.dcm"
        ds.save_as(path)
    assert deidentify_file(path, io.BytesIO(), CONTEXTS[0]).subject_code == "101-001"

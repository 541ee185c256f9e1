"""Rewrite a parsed header element by element into encoded bytes, applying the resolved profile.

This is the hot path. The parsed dataset is never modified and values are
never decoded unless an action needs them: a kept element is written back
from its raw bytes, a UID or a date is rewritten at the byte level, and
only free text to clean goes through pydicom's value conversion (it needs
the character set). Sequences that are kept are written with undefined
lengths (always valid, and no back-patching of lengths).
"""

from __future__ import annotations

import codecs
import functools
import struct
from typing import Callable, Iterable

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.multival import MultiValue
from pydicom.uid import UID_dictionary

from .context import DeidContext, DeidOptions
from .dates import shift_da, shift_dt
from .profile import Action, ResolvedProfile

__all__ = ["Encoder", "Rewriter", "remap_uid_with", "trial_elements"]

_LONG_LENGTH_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
_MULTI_VALUED_TEXT_VRS = frozenset({"LO", "SH", "UC"})  # ST, LT and UT may contain a backslash
_UNDEFINED = 0xFFFFFFFF
_PATIENT_NAME = 0x00100010


class Encoder:
    """Encodes elements for one transfer syntax encoding (implicit/explicit VR, endianness)."""

    def __init__(self, implicit: bool, little_endian: bool) -> None:
        self.implicit = implicit
        self.little_endian = little_endian
        endian = "<" if little_endian else ">"
        self._implicit_header = struct.Struct(endian + "HHL")
        self._short_header = struct.Struct(endian + "HH2sH")
        self._long_header = struct.Struct(endian + "HH2sHL")
        self._numbers = {vr: struct.Struct(endian + code) for vr, code in
                         (("US", "H"), ("SS", "h"), ("UL", "L"), ("SL", "l"), ("FL", "f"), ("FD", "d"))}
        self.item_start = self._implicit_header.pack(0xFFFE, 0xE000, _UNDEFINED)
        self.item_end = self._implicit_header.pack(0xFFFE, 0xE00D, 0)
        self.sequence_end = self._implicit_header.pack(0xFFFE, 0xE0DD, 0)

    def header(self, tag: int, vr: str, length: int) -> bytes:
        if self.implicit:
            return self._implicit_header.pack(tag >> 16, tag & 0xFFFF, length)
        if vr in _LONG_LENGTH_VRS:
            return self._long_header.pack(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)
        return self._short_header.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)

    def element(self, tag: int, vr: str, value: bytes) -> bytes:
        if not self.implicit and vr not in _LONG_LENGTH_VRS and len(value) > 0xFFFF:
            vr = "UN"  # PS3.5 6.2.2: a value too long for a 2-byte length is written as UN
        return self.header(tag, vr, len(value)) + value

    def number(self, vr: str, value: float) -> bytes:
        return self._numbers[vr].pack(value)

    def sequence_start(self, tag: int) -> bytes:
        return self.header(tag, "SQ", _UNDEFINED)


def _dictionary_vr(tag: int) -> str:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr if len(vr) == 2 else "UN"  # ambiguous ("US or SS"): keep the bytes, call them UN


def _codec_exists(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _pad(text: str, vr: str) -> bytes:
    data = text.encode("ascii")
    if len(data) % 2:
        data += b"\x00" if vr == "UI" else b" "
    return data


def _split(raw_value: bytes | None) -> list[str]:
    if not raw_value:
        return []
    return raw_value.decode("latin-1").strip(" \x00").split("\\")


@functools.lru_cache(maxsize=16384)  # bounded: study, series and frame UIDs recur in every file
def _remapped(secret: bytes, value: str) -> str:
    from .engine import remap_uid  # the one definition of the mapping

    return remap_uid(secret, value)


def remap_uid_with(secret: bytes) -> Callable[[str], str]:
    """Return the UID mapping for one secret; well-known UIDs (classes, coding schemes) pass unchanged."""

    def remap(value: str) -> str:
        value = value.strip(" \x00")
        if not value or value in UID_dictionary:
            return value
        return _remapped(secret, value)

    return remap


_CACHEABLE = frozenset({Action.UID, Action.SHIFT, Action.EMPTY, Action.DUMMY, Action.CLEAN})
# Memory stays flat: only small values are remembered (4 kB), and every
# cache is dropped once they hold 16 MB in all.
_CACHE_VALUE_LIMIT = 4096
_CACHE_BUDGET = 16 << 20
_cached_bytes = 0
_caches: dict[tuple[object, ...], dict[tuple[object, ...], tuple[object, object]]] = {}


def _cache_for(context: DeidContext, encoder: Encoder, charset: tuple[str, ...]) -> dict:  # type: ignore[type-arg]
    # Outputs depend on the participant, the encoding and (for cleaned text) the character set.
    key = (context, encoder.implicit, encoder.little_endian, charset)
    cache = _caches.get(key)
    if cache is None:
        if len(_caches) >= 8:
            _forget_all()
        cache = _caches[key] = {}
    return cache


def _forget_all() -> None:
    global _cached_bytes
    for cache in _caches.values():
        cache.clear()
    _caches.clear()
    _cached_bytes = 0


def _remember(cache: dict, key: tuple[object, ...], entry: tuple[object, object], size: int) -> None:  # type: ignore[type-arg]
    global _cached_bytes
    if _cached_bytes + size > _CACHE_BUDGET:
        _forget_all()
    cache[key] = entry
    _cached_bytes += size


class Rewriter:
    """Rewrites the elements of one file (top level and kept sequence items) into encoded bytes.

    `final` collects the output text of top-level elements whose tags are in
    `watch`, for the summary the caller returns.
    """

    def __init__(
        self,
        context: DeidContext,
        profile: ResolvedProfile,
        encoder: Encoder,
        charset: str | list[str],
        identifying_values: Callable[[], Iterable[str]],
        scrubber_factory: Callable[[Iterable[str]], Callable[[str], str]],
        watch: frozenset[int],
    ) -> None:
        options = profile.options
        self.context = context
        self.actions = profile.actions
        self.dummies = profile.dummies
        self.vrs = profile.vrs
        self.encoder = encoder
        self.charset = charset
        # One character set (the usual case): Python's codec decodes it.
        self.codec = charset[0] if len(charset) == 1 and _codec_exists(charset[0]) else None
        self.retain_uids = options.retain_uids
        self.cleaning = options.clean_descriptors
        self.new_uid = remap_uid_with(context.secret)
        self.days = context.date_offset_days
        self.safe_rules = {
            (rule.creator.strip(" \x00").upper(), rule.group, rule.element_offset)
            for rule in options.safe_private_tags
        }
        self.safe_creators = {(creator, group) for creator, group, _ in self.safe_rules}
        self._identifying_values = identifying_values
        self._scrubber_factory = scrubber_factory
        self._scrub: Callable[[str], str] | None = None
        self.watch = watch
        self.final: dict[int, str] = {}
        self._recording = False
        self._last_text: str | None = None
        self.cache = _cache_for(context, encoder, tuple(charset))
        self.private_removed = 0
        subject = context.subject_code
        self._subject_ascii = subject.isascii()
        self._subject = {
            vr: encoder.element(tag, vr, _pad(subject, vr)) if subject.isascii() else b""
            for tag, vr in ((_PATIENT_NAME, "PN"), (0x00100020, "LO"))
        }

    # -- datasets

    def dataset(self, dataset: Dataset, *, top: bool) -> list[tuple[int, bytes]]:
        """Return (tag, encoded element) for every element of `dataset` that stays, in tag order."""
        actions = self.actions
        # items() hands out raw elements without decoding them. Tags become
        # plain ints: pydicom's BaseTag compares in Python, plain ints in C.
        elements = [(int(tag), item) for tag, item in dataset.items()]
        if any(elements[index][0] >= elements[index + 1][0] for index in range(len(elements) - 1)):
            elements.sort(key=lambda entry: entry[0])
        out: list[tuple[int, bytes]] = []
        creators: dict[tuple[int, int], str] | None = None
        watch = self.watch if top else frozenset()
        # Only top-level values go into the summary (a nested SOP Instance
        # UID is a reference, not this instance).
        recording, self._recording = self._recording, top
        keep, remove, recurse, clean = Action.KEEP, Action.REMOVE, Action.RECURSE, Action.CLEAN
        cache = self.cache
        for tag, item in elements:
            action = actions.get(tag, remove)
            if action is keep:
                encoded = self._keep(tag, item)
                if tag in watch:
                    self.final[tag] = self._text_of(tag, item)
            elif action is remove:
                if tag & 0x10000 and tag & 0xFFFF:  # an odd group: private
                    if self.safe_rules:
                        if creators is None:
                            creators = self._creators(dataset)
                        if self._is_safe_private(tag, creators):
                            out.append((tag, self._keep(tag, item)))
                            continue
                    self.private_removed += 1
                continue
            elif action is recurse:
                if item.__class__ is RawDataElement and 0 < len(item.value or b"") <= _CACHE_VALUE_LIMIT:
                    # Identical sequences (codes, references to the same study) recur
                    # in every file: remember their output with what they removed.
                    key = (tag, item.VR, item.value, self._scrubber_if_cleaning())
                    cached = cache.get(key)
                    if cached is None:
                        removed = self.private_removed
                        encoded = self._sequence_of(dataset, tag)
                        cached = (encoded, self.private_removed - removed)
                        _remember(cache, key, cached, 2 * len(item.value) + 200)
                    else:
                        self.private_removed += cached[1]  # type: ignore[operator]
                    encoded = cached[0]
                else:
                    encoded = self._sequence_of(dataset, tag)
                if encoded is None:
                    continue
            elif (
                action in _CACHEABLE
                and item.__class__ is RawDataElement
                and len(item.value or b"") <= _CACHE_VALUE_LIMIT
            ):
                # The same raw value always gives the same output for one
                # participant: the study's UIDs, dates, dummies and cleaned
                # descriptors repeat in every file, so most of these are a
                # dictionary lookup. Cleaning also depends on the patient.
                key = (tag, item.VR, item.value, self._scrubber_if_cleaning() if action is clean else None)
                cached = cache.get(key)
                if cached is None:
                    self._last_text = None
                    cached = (self._transform(dataset, tag, item, action), self._last_text)
                    _remember(cache, key, cached, 2 * len(item.value or b"") + 200)
                encoded, text = cached
                if encoded is None:
                    continue
                if text is not None and tag in watch:
                    self.final[tag] = text
            else:
                encoded = self._transform(dataset, tag, item, action)
                if encoded is None:
                    continue
            out.append((tag, encoded))
        self._recording = recording
        return out

    def _sequence_of(self, dataset: Dataset, tag: int) -> bytes | None:
        try:
            element = dataset[tag]
            if element.VR != "SQ":
                return None  # not a sequence after all: dropped rather than passed through
            items = list(element.value)
        # A damaged sequence makes pydicom fail in many ways; it is dropped
        # (nothing of it can leak), and the message, which may quote file
        # values, is not kept.
        except Exception:
            return None
        return self._sequence(tag, items)

    def _scrubber_if_cleaning(self) -> Callable[[str], str] | None:
        if not self.cleaning:
            return None
        if self._scrub is None:
            self._scrub = self._scrubber_factory(self._identifying_values())
        return self._scrub

    def _sequence(self, tag: int, items: Iterable[Dataset]) -> bytes:
        encoder = self.encoder
        parts = [encoder.sequence_start(tag)]
        for item in items:
            parts.append(encoder.item_start)
            parts.extend(encoded for _, encoded in self.dataset(item, top=False))
            parts.append(encoder.item_end)
        parts.append(encoder.sequence_end)
        return b"".join(parts)

    # -- elements

    def _vr(self, tag: int, item: RawDataElement | DataElement) -> str:
        vr = self.vrs.get(tag)
        if vr:
            return vr
        vr = item.VR
        if vr and len(vr) == 2:
            return vr
        return _dictionary_vr(tag)

    def _keep(self, tag: int, item: RawDataElement | DataElement) -> bytes:
        encoder = self.encoder
        if isinstance(item, RawDataElement):
            value = item.value if isinstance(item.value, bytes) else b""
            vr = item.VR if item.VR and len(item.VR) == 2 else ("UN" if encoder.implicit else _dictionary_vr(tag))
            if item.length == _UNDEFINED:
                # An undefined-length value that is not a sequence (UN, OB): as received.
                return encoder.header(tag, vr, _UNDEFINED) + value + encoder.sequence_end
            return encoder.element(tag, vr, value)
        if item.VR == "SQ":
            return self._sequence(tag, item.value)
        return self._pydicom(item)

    def _pydicom(self, element: DataElement) -> bytes:
        buffer = DicomBytesIO()
        buffer.is_implicit_VR = self.encoder.implicit
        buffer.is_little_endian = self.encoder.little_endian
        write_data_element(buffer, element, self.charset)
        return buffer.getvalue()

    def _text_of(self, tag: int, item: RawDataElement | DataElement) -> str:
        if isinstance(item, RawDataElement):
            value = item.value or b""
            vr = item.VR or self.vrs.get(tag, "")
            if vr in ("US", "UL") and isinstance(value, bytes) and len(value) >= 2:
                code = ("<" if self.encoder.little_endian else ">") + ("H" if vr == "US" else "L")
                return str(struct.unpack_from(code, value)[0]) if len(value) >= struct.calcsize(code) else ""
            return value.decode("latin-1").strip(" \x00") if isinstance(value, bytes) else ""
        value = item.value
        if isinstance(value, (list, MultiValue)):
            return "\\".join(str(part) for part in value)
        return "" if value is None else str(value)

    def _transform(
        self, dataset: Dataset, tag: int, item: RawDataElement | DataElement, action: Action
    ) -> bytes | None:
        encoder = self.encoder
        if action is Action.UID:
            if self.retain_uids:
                return self._keep(tag, item)
            values = self._values(item)
            if values is None:
                return None
            text = "\\".join(self.new_uid(value) for value in values)
            return self._emit_text(tag, "UI", text)
        if action is Action.SHIFT:
            vr = self._vr(tag, item)
            shift = shift_da if vr == "DA" else shift_dt if vr == "DT" else None
            values = self._values(item)
            if shift is None or values is None:
                return None
            shifted = [shift(value, self.days) for value in values]
            # An unreadable date is emptied rather than kept (it may be a real one).
            text = "\\".join(value for value in shifted if value)
            return self._emit_text(tag, vr, text)
        if action is Action.EMPTY:
            vr = self._vr(tag, item)
            self._last_text = ""
            if self._recording and tag in self.watch:
                self.final[tag] = ""
            return encoder.element(tag, vr, b"")
        if action is Action.DUMMY:
            vr = self._vr(tag, item)
            return self._dummy(tag, vr)
        if action is Action.SUBJECT:
            vr = "PN" if tag == _PATIENT_NAME else "LO"
            if self._subject_ascii:
                return self._subject[vr]
            return self._pydicom(DataElement(tag, vr, self.context.subject_code))
        if action is Action.CLEAN:
            return self._clean(dataset, tag, item)
        raise AssertionError(action)  # pragma: no cover - every Action is handled

    def _values(self, item: RawDataElement | DataElement) -> list[str] | None:
        if isinstance(item, RawDataElement):
            return _split(item.value) if isinstance(item.value, bytes) or item.value is None else None
        value = item.value
        if value is None or value == "":
            return []
        if isinstance(value, (list, MultiValue)):
            return [str(part) for part in value]
        if isinstance(value, (str, bytes)):
            return [value.decode("latin-1") if isinstance(value, bytes) else value]
        return [str(value)]

    def _emit_text(self, tag: int, vr: str, text: str) -> bytes:
        self._last_text = text
        if self._recording and tag in self.watch:
            self.final[tag] = text
        return self.encoder.element(tag, vr, _pad(text, vr))

    def _dummy(self, tag: int, vr: str) -> bytes:
        value = self.dummies.get(tag, "ANONYMIZED")
        encoder = self.encoder
        if isinstance(value, bytes):
            return encoder.element(tag, vr, value)
        if isinstance(value, (int, float)) and vr in ("US", "SS", "UL", "SL", "FL", "FD"):
            return encoder.element(tag, vr, encoder.number(vr, value))
        return self._emit_text(tag, vr, str(value))

    def _clean(self, dataset: Dataset, tag: int, item: RawDataElement | DataElement) -> bytes | None:
        scrub = self._scrubber_if_cleaning() or self._scrubber_factory(())
        codec = self.codec
        if codec is not None and isinstance(item, RawDataElement) and item.VR in _TEXT_VRS | {None}:
            # Single character set: decode and encode the bytes ourselves,
            # which is several times faster than pydicom's conversion.
            vr = self._vr(tag, item)
            if vr not in _TEXT_VRS:
                return None
            text = (item.value or b"").decode(codec, "replace").rstrip(" \x00")
            if vr in _MULTI_VALUED_TEXT_VRS:
                parts = [scrub(part) for part in text.split("\\")]
                cleaned = "\\".join(part for part in parts if part)
            else:
                cleaned = scrub(text)
            if not cleaned and tag in self.dummies:
                cleaned = str(self.dummies[tag])
            self._last_text = cleaned
            if self._recording and tag in self.watch:
                self.final[tag] = cleaned
            data = cleaned.encode(codec, "replace")
            if len(data) % 2:
                data += b" "
            return self.encoder.element(tag, vr, data)
        try:
            element = dataset[tag]  # other character sets: pydicom decodes
        except Exception:  # undecodable text: dropped, see _sequence_of
            return None
        if element.VR not in _TEXT_VRS:
            return None
        value = element.value
        if isinstance(value, (list, MultiValue)):
            cleaned_parts = [scrub(str(part)) for part in value]
            cleaned_parts = [part for part in cleaned_parts if part]
            new_value: object = cleaned_parts if len(cleaned_parts) > 1 else (cleaned_parts[0] if cleaned_parts else "")
        else:
            new_value = scrub(str(value or ""))
        if not new_value and tag in self.dummies:
            new_value = self.dummies[tag]
        self._last_text = "\\".join(new_value) if isinstance(new_value, list) else str(new_value)
        if self._recording and tag in self.watch:
            self.final[tag] = self._last_text
        return self._pydicom(DataElement(tag, element.VR, new_value))

    # -- private elements

    @staticmethod
    def _creators(dataset: Dataset) -> dict[tuple[int, int], str]:
        creators = {}
        for tag in dataset.keys():
            if tag & 0x10000 and 0x10 <= (tag & 0xFFFF) <= 0xFF:
                item = dataset.get_item(tag)
                if isinstance(item, RawDataElement):
                    value = item.value
                else:
                    value = str(item.value or "").encode("latin-1", "replace")
                creators[(tag >> 16, tag & 0xFF)] = (value or b"").decode("latin-1").strip(" \x00").upper()
        return creators

    def _is_safe_private(self, tag: int, creators: dict[tuple[int, int], str]) -> bool:
        group, element = tag >> 16, tag & 0xFFFF
        if element < 0x10:
            return False  # group length or reserved
        if element <= 0xFF:
            return (creators.get((group, element), ""), group) in self.safe_creators
        creator = creators.get((group, element >> 8))
        return creator is not None and (creator, group, element & 0xFF) in self.safe_rules


# --------------------------------------------------------------------------- what the engine adds

PROFILE_NAME = "ICTMS PS3.15 Basic Profile"
CODE_BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
# CID 7050 De-identification Method codes (DCM); the tests check them against pydicom's code dictionary.
OPTION_CODES = (
    ("retain_full_dates", "113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    ("retain_modified_dates", "113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("retain_patient_characteristics", "113108", "Retain Patient Characteristics Option"),
    ("retain_device_identity", "113109", "Retain Device Identity Option"),
    ("retain_uids", "113110", "Retain UIDs Option"),
    ("safe_private_tags", "113111", "Retain Safe Private Option"),
    ("retain_institution_identity", "113112", "Retain Institution Identity Option"),
    ("clean_descriptors", "113105", "Clean Descriptors Option"),
)
_METHOD_TEXT = {
    "retain_full_dates": "Retain Longitudinal Temporal Information with Full Dates",
    "retain_modified_dates": "Retain Longitudinal Temporal Information with Modified Dates",
    "retain_patient_characteristics": "Retain Patient Characteristics",
    "retain_device_identity": "Retain Device Identity",
    "retain_uids": "Retain UIDs",
    "safe_private_tags": "Retain Safe Private",
    "retain_institution_identity": "Retain Institution Identity",
    "clean_descriptors": "Clean Descriptors",
}


def _option_enabled(options: DeidOptions, name: str) -> bool:
    if name in ("retain_device_identity", "retain_institution_identity") and options.blind_site:
        return False
    return bool(getattr(options, name))


def trial_elements(context: DeidContext) -> list[DataElement]:
    """Group 0012 and the de-identification record, from the trial's data (never from the file)."""
    options = context.options
    site_id = "" if options.blind_site else context.site_id
    site_name = "" if options.blind_site else context.site_name
    enabled = [(name, code, meaning) for name, code, meaning in OPTION_CODES if _option_enabled(options, name)]
    method = [PROFILE_NAME] + [_METHOD_TEXT[name] for name, _, _ in enabled]
    if options.blind_site:
        method.append("Site Identity Withheld")
    codes = []
    for code, meaning in [CODE_BASIC_PROFILE] + [(code, meaning) for _, code, meaning in enabled]:
        item = Dataset()
        item.add(DataElement(0x00080100, "SH", code))
        item.add(DataElement(0x00080102, "SH", "DCM"))
        item.add(DataElement(0x00080104, "LO", meaning))
        codes.append(item)
    elements = [
        DataElement(0x00120010, "LO", context.sponsor_name),
        DataElement(0x00120020, "LO", context.protocol_id),
        DataElement(0x00120021, "LO", context.protocol_name),
        DataElement(0x00120030, "LO", site_id),
        DataElement(0x00120031, "LO", site_name),
        DataElement(0x00120040, "LO", context.subject_code),
        DataElement(0x00120050, "LO", context.timepoint_id),
        DataElement(0x00120060, "LO", context.coordinating_center_name),
        DataElement(0x00120062, "CS", "YES"),
        DataElement(0x00120063, "LO", method),
        DataElement(0x00120064, "SQ", codes),
    ]
    if context.timepoint_description:
        elements.append(DataElement(0x00120051, "ST", context.timepoint_description))
    if options.retain_modified_dates:
        temporal = "MODIFIED"
    elif options.retain_full_dates:
        temporal = "UNMODIFIED"
    else:
        temporal = "REMOVED"
    elements.append(DataElement(0x00280303, "CS", temporal))
    return elements


@functools.lru_cache(maxsize=64)
def encoded_trial_elements(
    context: DeidContext, implicit: bool, little_endian: bool, charset: tuple[str, ...]
) -> tuple[tuple[int, bytes], ...]:
    """trial_elements() encoded once per context and encoding: identical for every file of a participant."""
    encoded = []
    for element in trial_elements(context):
        buffer = DicomBytesIO()
        buffer.is_implicit_VR = implicit
        buffer.is_little_endian = little_endian
        write_data_element(buffer, element, list(charset))
        encoded.append((int(element.tag), buffer.getvalue()))
    return tuple(encoded)

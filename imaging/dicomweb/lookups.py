"""`dicom_like`: PS3.4 wildcard matching (* and ?) in SQL, case-insensitive, as LIKE.

A pattern becomes LIKE with `%` and `_` (and the escape character) escaped, so matching costs at
most the length of the value times the length of the pattern, never the backtracking a regular
expression does. On PostgreSQL the left side is `UPPER(column::text)`, the form the indexes of
imaging migration 0007 are built on (with text_pattern_ops), so a search with a fixed beginning
(`PatientID=101-*`) walks an index instead of the table.
"""
from __future__ import annotations

from typing import Any

from django.db.models import CharField, Lookup


def like_pattern(value: str) -> str:
    """The LIKE pattern of a DICOM wildcard value: * is %, ? is _, everything else literal."""
    out = []
    for c in value:
        if c in ("\\", "%", "_"):
            out.append("\\" + c)
        elif c == "*":
            out.append("%")
        elif c == "?":
            out.append("_")
        else:
            out.append(c)
    return "".join(out)


@CharField.register_lookup
class DicomLike(Lookup):
    lookup_name = "dicom_like"

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [like_pattern(str(value))]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        params = [*lhs_params, *rhs_params]
        if connection.vendor == "postgresql":
            return f"UPPER({lhs}::text) LIKE UPPER({rhs})", params
        # SQLite's LIKE is case-insensitive for ASCII; backslash must be named as the escape character.
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", params

"""The one gate every served DICOM header, file and search result passes on its way to a user.

The viewer's header panel, WADO-RS files and metadata, and QIDO-RS results all call into this
module, so blinding (design.md: readers and adjudicators never see site, subject code, arm,
real dates) is enforced in one place on the server. Today it is the identity: the roles that
can see images at all (site, QC, admin, sponsor, auditor) may see the de-identified headers as
stored. The reads issue extends `needs_blinding` and `dataset_for_user` for blinded readers
(replace PatientID/PatientName with the case's blinding code, drop site and institution
attributes, hide dates); callers need no change.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import Dataset

from ictms.lib.users import AnyUser

if TYPE_CHECKING:
    from imaging.models import Instance, Series, Study



def needs_blinding(user: AnyUser, owner: Study | Series | Instance) -> bool:
    """Whether what `owner` serves must be altered for `user` (never for today's roles)."""
    return False


def dataset_for_user(user: AnyUser, owner: Study | Series | Instance, ds: Dataset) -> Dataset:
    """The header `user` may see of the data set `ds` belonging to `owner` (study, series or instance).

    `ds` may be a full instance, its header only, or the attributes of a QIDO-RS result; the
    result may be `ds` itself, changed in place.
    """
    return ds


def instance_bytes_for_user(user: AnyUser, instance: Instance, path: Path) -> bytes:
    """The Part 10 file of `instance` as `user` may receive it (the stored bytes when unblinded)."""
    if not needs_blinding(user, instance):
        return path.read_bytes()
    from io import BytesIO

    from pydicom import dcmread

    ds = dataset_for_user(user, instance, dcmread(path))
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()

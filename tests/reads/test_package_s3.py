"""A read package built from and into S3 (moto's standalone server), and the SR files of a real build validated.

Nothing of the build touches the local storage directory: the de-identified images are read from the
bucket, the zip is written to the bucket, the download streams from it. The SR files the build wrote
are read back by highdicom (tracking UIDs and long axes match the stored observations) and pass dciodvfy.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import zipfile
from decimal import Decimal

import highdicom as hd
import pytest
from django.conf import settings

from reads.models import Observation, ReadPackage
from reads.package.manifest import verify_package
from tests.reads.package_world import package_world
from tests.reads.test_adjudication import case  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
URL = "/api/read-packages/"


def _local_files() -> list[str]:
    root = settings.MEDIA_ROOT
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_package_is_built_from_and_into_s3_and_its_reports_validate(s3_storage, world, case, api, tmp_path):  # noqa: F811
    package_world(world, case)
    images = s3_storage.keys("trials/TRIAL-A/")
    assert images, "the fixtures stored the de-identified images in the bucket"

    response = api(world.sponsor).post(URL, {"trial": "TRIAL-A"}, format="json")
    assert response.status_code == 201, response.content
    package = ReadPackage.objects.get(pk=response.json()["id"])
    assert package.state == "ready", package.error
    assert s3_storage.keys("packages/") == [package.storage_key]
    stored = s3_storage.read(package.storage_key)
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (package.size, package.sha256)

    download = api(world.sponsor).get(f"{URL}{package.pk}/download/")
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert data == stored
    assert verify_package(io.BytesIO(data)) is None
    assert _local_files() == [], "nothing was written to the local storage directory"

    archive = zipfile.ZipFile(io.BytesIO(data))
    dicoms = [n for n in archive.namelist() if n.startswith("images/")]
    # Every image in the package is byte for byte one of the bucket's de-identified instances.
    bucket_hashes = {hashlib.sha256(s3_storage.read(k)).hexdigest() for k in images}
    assert dicoms and {hashlib.sha256(archive.read(n)).hexdigest() for n in dicoms} <= bucket_hashes

    measured = {(o.lesion.tracking_uid, o.diameter_mm) for o in
                Observation.objects.filter(kind="measured", lesion__kind="target").select_related("lesion")}
    reports = [n for n in archive.namelist() if n.startswith("sr/")]
    assert len(reports) >= 8  # two subjects x two timepoints x two readers
    seen = set()
    for name in reports:
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(archive.read(name))
        report = hd.sr.srread(path)
        for group in report.content.get_image_measurement_groups():
            axes = {m.name.meaning: m.value for m in group.get_measurements()}
            if "Long Axis" in axes:
                seen.add((group.tracking_uid, Decimal(str(axes["Long Axis"])).quantize(Decimal("0.01"))))
        if shutil.which("dciodvfy"):
            out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
            errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
            assert errors == [], (name, errors)
    assert seen and seen <= measured, (seen - measured)

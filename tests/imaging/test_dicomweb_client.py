"""DICOMweb browsed with the real `dicomweb-client` library against a live server (as docs/dicomweb.md shows)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image
from pydicom.uid import JPEG2000Lossless
from rest_framework.authtoken.models import Token

from tests.imaging import render_samples as samples
from tests.imaging.factories import make_series
from tests.trials.factories import PASSWORD, visit

dicomweb_client = pytest.importorskip("dicomweb_client")

pytestmark = pytest.mark.django_db(transaction=True)


def session(**auth) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # the live server is on loopback: never through a proxy
    # No keep-alive: an idle kept-alive connection holds a server thread (and its database
    # connection) open past the end of the test.
    s.headers["Connection"] = "close"
    if "basic" in auth:
        s.auth = auth["basic"]
    return s


def client_for(live_server, user, *, basic: bool = False):
    if basic:
        return dicomweb_client.DICOMwebClient(url=f"{live_server.url}/dicomweb",
                                              session=session(basic=(user.username, PASSWORD)))
    token = Token.objects.get_or_create(user=user)[0].key
    return dicomweb_client.DICOMwebClient(url=f"{live_server.url}/dicomweb", session=session(),
                                          headers={"Authorization": f"Token {token}"})


def test_a_trial_is_browsed_with_dicomweb_client(live_server, world):
    ct = make_series(visit(world.participant, "BL"), n=3, description="CHEST CT")
    ds = samples.mr_unsigned()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    mr = make_series(visit(world.participant, "W8"), datasets=[ds], modality="MR")
    client = client_for(live_server, world.qc)

    studies = client.search_for_studies()
    assert sorted(s["0020000D"]["Value"][0] for s in studies) == sorted([ct.study.study_uid, mr.study.study_uid])
    assert client.search_for_studies(search_filters={"PatientID": "101-001"}, limit=1)
    series = client.search_for_series(study_instance_uid=ct.study.study_uid)
    assert [s["0020000E"]["Value"][0] for s in series] == [ct.series_uid]
    instances = client.search_for_instances(study_instance_uid=ct.study.study_uid, series_instance_uid=ct.series_uid)
    assert len(instances) == 3
    sop = instances[0]["00080018"]["Value"][0]

    instance = client.retrieve_instance(ct.study.study_uid, ct.series_uid, sop)
    assert instance.SOPInstanceUID == sop and instance.PatientID == "101-001"
    assert instance.pixel_array.shape == (64, 64)
    metadata = client.retrieve_instance_metadata(ct.study.study_uid, ct.series_uid, sop)
    assert metadata["00080018"]["Value"] == [sop]
    [frame] = client.retrieve_instance_frames(ct.study.study_uid, ct.series_uid, sop, frame_numbers=[1])
    assert frame == instance.PixelData
    rendered = client.retrieve_instance_rendered(ct.study.study_uid, ct.series_uid, sop, media_types=("image/png",))
    assert Image.open(io.BytesIO(rendered)).size == (64, 64)
    assert len(client.retrieve_series(ct.study.study_uid, ct.series_uid)) == 3

    # A JPEG 2000 instance: as stored (the client's default, transfer-syntax=*) or transcoded.
    mr_sop = mr.instances.get().sop_uid
    as_stored = client.retrieve_instance(mr.study.study_uid, mr.series_uid, mr_sop)
    assert as_stored.file_meta.TransferSyntaxUID == JPEG2000Lossless
    native = client.retrieve_instance(mr.study.study_uid, mr.series_uid, mr_sop,
                                      media_types=(("application/dicom", "1.2.840.10008.1.2.1"),))
    assert native.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(native.pixel_array, as_stored.pixel_array)
    [j2k] = client.retrieve_instance_frames(mr.study.study_uid, mr.series_uid, mr_sop, frame_numbers=[1],
                                            media_types=("image/jp2",))
    assert j2k[:4] in (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0c")  # a JPEG 2000 codestream or file


def test_http_basic_authentication_works_too(live_server, world):
    make_series(visit(world.participant, "BL"), n=1)
    assert len(client_for(live_server, world.admin, basic=True).search_for_series()) == 1


def test_another_site_sees_nothing_through_dicomweb_client(live_server, world):
    ct = make_series(visit(world.participant, "BL"), n=1)
    client = client_for(live_server, world.other_coordinator)
    assert client.search_for_studies() == []
    with pytest.raises(requests.HTTPError) as error:
        client.retrieve_instance(ct.study.study_uid, ct.series_uid, ct.instances.get().sop_uid)
    assert error.value.response.status_code == 404

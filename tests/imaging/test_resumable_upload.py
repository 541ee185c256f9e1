"""The resumable (chunked) upload protocol the browser uses."""
from __future__ import annotations

import pytest

from imaging.models import Instance, SubmissionFile
from tests.imaging.upload_helpers import ct_files, open_submission
from tests.trials import factories as f


@pytest.fixture
def sub(world, api):
    return open_submission(api(world.coordinator), f.visit(world.participant, "BL").pk)


def start(client, sub_id, key, data, name="IM0001.dcm"):
    r = client.post(f"/api/submissions/{sub_id}/uploads/", {"client_key": key, "name": name, "size": len(data)}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def put(client, sub_id, file_id, data, start_at, end_at):
    return client.put(f"/api/submissions/{sub_id}/uploads/{file_id}/", data=data[start_at:end_at + 1],
                      content_type="application/octet-stream",
                      HTTP_CONTENT_RANGE=f"bytes {start_at}-{end_at}/{len(data)}")


def test_chunks_assemble_the_file_and_it_is_processed(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k1", data)
    assert up["received_bytes"] == 0 and up["chunk_size"] > 0
    third = len(data) // 3
    assert put(client, sub["id"], up["id"], data, 0, third - 1).json()["received_bytes"] == third
    assert put(client, sub["id"], up["id"], data, third, 2 * third - 1).status_code == 200
    last = put(client, sub["id"], up["id"], data, 2 * third, len(data) - 1).json()
    assert last["status"] == "received" and last["received_bytes"] == len(data)
    # Processing starts after the request commits.
    assert client.get(f"/api/submissions/{sub['id']}/uploads/{up['id']}/").json()["status"] == "deidentified"
    assert Instance.objects.count() == 1


def test_resuming_returns_the_offset_and_refuses_gaps(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k2", data)
    put(client, sub["id"], up["id"], data, 0, 999)
    # The page reloads: registering the same client key again gives the same upload and its offset.
    again = start(client, sub["id"], "k2", data)
    assert again["id"] == up["id"] and again["received_bytes"] == 1000
    # A chunk that does not start at the offset is refused with the offset to resume from.
    r = put(client, sub["id"], up["id"], data, 2000, 2999)
    assert r.status_code == 409 and r.json()["received_bytes"] == 1000
    put(client, sub["id"], up["id"], data, 1000, len(data) - 1)
    assert SubmissionFile.objects.get(pk=up["id"]).status == "deidentified"


def test_a_repeated_last_chunk_is_harmless(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k3", data)
    put(client, sub["id"], up["id"], data, 0, len(data) - 1)
    r = put(client, sub["id"], up["id"], data, 0, len(data) - 1)
    assert r.status_code == 200 and Instance.objects.count() == 1


def test_bad_ranges_are_refused(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k4", data)
    r = client.put(f"/api/submissions/{sub['id']}/uploads/{up['id']}/", data=b"x", content_type="application/octet-stream")
    assert r.status_code == 400
    assert put(client, sub["id"], up["id"], data + b"more", 0, len(data) + 3).status_code == 400


def test_an_unfinished_upload_is_rejected_when_the_submission_completes(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k5", data)
    put(client, sub["id"], up["id"], data, 0, 99)
    client.post(f"/api/submissions/{sub['id']}/complete/")
    result = client.get(f"/api/submissions/{sub['id']}/").json()
    assert result["state"] == "failed"
    assert result["errors"][0]["reason"] == "the upload of this file was not finished"
    assert result["errors"][0]["reason_code"] == "upload_unfinished"


def test_registering_an_oversized_file_records_the_refusal(world, api, sub, settings):
    settings.UPLOAD_MAX_FILE_MB = 1
    client = api(world.coordinator)
    r = client.post(f"/api/submissions/{sub['id']}/uploads/", {"client_key": "big", "name": "x.dcm", "size": 5 * 2**20},
                    format="json")
    assert r.json()["status"] == "rejected" and "1 MB limit" in r.json()["reason"]
    assert r.json()["reason_code"] == "too_large"


@pytest.mark.parametrize("persona,status", [("other_coordinator", 404), ("qc", 403), ("coordinator_b", 404), (None, 401)])
def test_others_cannot_register_or_send_chunks(world, api, sub, persona, status):
    data = ct_files(1)[0][1]
    up = start(api(world.coordinator), sub["id"], "k6", data)
    client = api(world.user(persona) if persona else None)
    r = client.post(f"/api/submissions/{sub['id']}/uploads/", {"client_key": "x", "size": 10}, format="json")
    assert r.status_code == status
    assert put(client, sub["id"], up["id"], data, 0, 99).status_code == status
    assert SubmissionFile.objects.get(pk=up["id"]).received_bytes == 0


def test_file_names_are_stored_without_phi(world, api, sub):
    client = api(world.coordinator)
    data = ct_files(1)[0][1]
    up = start(client, sub["id"], "k7", data, name="SMITH_JOHN_1960/CT/IM0001.dcm")
    assert up["name"] == "…/IM0001.dcm"
    assert not SubmissionFile.objects.filter(display_name__icontains="SMITH").exists()

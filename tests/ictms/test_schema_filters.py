"""The OpenAPI schema lists each list endpoint's filter parameters, with their types, from the FilterSets."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(world, api):
    response = api(world.admin).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and "json" in response["Content-Type"]
    return response.json()


def parameters(schema, path: str) -> dict[str, dict]:
    return {p["name"]: p["schema"] for p in schema["paths"][path]["get"].get("parameters", []) if p["in"] == "query"}


def test_the_query_list_documents_its_filters(schema):
    params = parameters(schema, "/api/queries/")
    assert {"trial", "site", "state", "category", "visit", "age", "automatic"} <= set(params)
    assert params["state"]["type"] == "array" and set(params["state"]["items"]["enum"]) == {
        "open", "answered", "resolved", "cancelled"}
    assert params["visit"]["type"] == "integer" and params["automatic"]["type"] == "boolean"
    assert set(params["age"]["enum"]) == {"0-7", "8-14", "15-30", "31+"}


def test_the_audit_trail_documents_its_filters(schema):
    params = parameters(schema, "/api/audit-events/")
    assert {"trial", "object", "user", "action", "from", "to"} <= set(params)
    assert params["from"] == params["to"] == {"type": "string", "format": "date"}


@pytest.mark.parametrize("path,names", [
    ("/api/participants/", {"trial", "site"}), ("/api/visits/", {"trial", "site", "participant"}),
    ("/api/memberships/", {"trial", "include_ended"}), ("/api/qc/visits/", {"trial", "site", "modality"}),
    ("/api/submissions/", {"visit"}), ("/api/sites/", {"trial"}),
])
def test_every_filtered_list_documents_its_filters(schema, path, names):
    assert names <= set(parameters(schema, path))


def test_detail_routes_and_other_lists_do_not_borrow_a_list_filter(schema):
    assert not {"trial", "state"} & set(parameters(schema, "/api/queries/{id}/"))
    files = parameters(schema, "/api/submissions/{id}/files/")
    assert {"since", "status", "processed_after"} <= set(files) and "visit" not in files

"""List pages and list endpoints make a constant number of queries whatever the trial's size."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.trials import factories as f


def grow(world, n: int) -> None:
    for i in range(n):
        f.participant(world.coordinator, world.site, f"101-{100 + i:03d}")
        f.participant(world.other_coordinator, world.other_site, f"102-{100 + i:03d}")


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


URLS = [
    "/t/TRIAL-A/participants/", "/t/TRIAL-A/visits/", "/t/TRIAL-A/schedule/", "/t/TRIAL-A/sites/",
    "/t/TRIAL-A/members/", "/t/TRIAL-A/", "/t/TRIAL-A/audit/",
    "/api/participants/?trial=TRIAL-A", "/api/visits/?trial=TRIAL-A", "/api/sites/?trial=TRIAL-A",
    "/api/timepoints/?trial=TRIAL-A", "/api/memberships/?trial=TRIAL-A", "/api/audit-events/?trial=TRIAL-A",
]


COORDINATOR_URLS = ["/t/TRIAL-A/participants/", "/t/TRIAL-A/visits/", "/api/participants/", "/api/visits/"]


@pytest.mark.parametrize("persona,url", [("admin", u) for u in URLS] + [("coordinator", u) for u in COORDINATOR_URLS])
def test_query_count_does_not_grow_with_the_trial(world, page_client, api, url, persona):
    client = api(world.user(persona)) if url.startswith("/api/") else page_client(world.user(persona))
    client.get(url)  # warm caches (content types, sessions)
    small = count(client, url)
    grow(world, 12)
    large = count(client, url)
    assert large == small, f"{url}: {small} queries with 2 participants, {large} with 26"

"""Reading QIDO-RS answers in tests: 200 with a JSON list, or 204 with no body when nothing matched."""
from __future__ import annotations

from typing import Any


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code in (200, 204), (response.status_code, response.content[:300])
    if response.status_code == 204:
        assert not response.content
        return []
    found = response.json()
    assert found, "a search that finds nothing answers 204, not 200 []"
    return found

"""Fixtures the page and API tests share."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def doc(client) -> dict[str, Any]:
    """The API's OpenAPI document, as served."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()

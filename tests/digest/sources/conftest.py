from __future__ import annotations

import pytest


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the HTTP client asks for, without really waiting."""
    waited: list[float] = []
    monkeypatch.setattr("digest.sources.http.sleep", waited.append)
    return waited

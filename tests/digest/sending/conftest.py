"""Fixtures of the sending tests."""

from __future__ import annotations

import pytest
from django.core.mail.backends.locmem import EmailBackend


class ESP:
    """The test email backend, made to fail every send and to recover."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch = monkeypatch
        self.real = EmailBackend.send_messages

    def down(self) -> None:
        def refuse(backend, messages):
            raise OSError("down")

        self.monkeypatch.setattr(EmailBackend, "send_messages", refuse)

    def up(self) -> None:
        self.monkeypatch.setattr(EmailBackend, "send_messages", self.real)


@pytest.fixture
def esp(monkeypatch) -> ESP:
    return ESP(monkeypatch)

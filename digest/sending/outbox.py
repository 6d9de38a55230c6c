"""The default email backend for a first run: one .eml file per message in var/outbox.

Django's file backend appends a whole batch to one .log file; a newcomer wants to open
"the email" in a mail client or browser, so each message gets its own .eml file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]+")


class OutboxBackend(BaseEmailBackend):
    def __init__(self, *, file_path: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            path = self._path_for(message)
            path.write_bytes(message.message().as_bytes(linesep="\n"))
            sent += 1
        return sent

    def _path_for(self, message: EmailMessage) -> Path:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
        recipient = _UNSAFE.sub("_", message.recipients()[0])[:80]
        return self.directory / f"{stamp}-{recipient}.eml"

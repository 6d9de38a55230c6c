from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from digest.models import Delivery, Paper


@pytest.mark.django_db
def test_the_demo_papers_have_categories_and_the_demo_digest_says_them(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")

    call_command("demo_setup", stdout=StringIO())

    assert Paper.objects.count() == 592
    assert not Paper.objects.filter(categories=[]).exists()
    (delivery,) = Delivery.objects.filter(subscriber__email="demo@example.com")
    assert any("; in cs." in pick["reason"] for pick in delivery.picks)
    # The demo reader liked a few earlier papers: the digest says what likes do.
    assert delivery.subscriber.feedback.filter(kind="like").count() == 3
    assert any("you liked" in pick["reason"] for pick in delivery.picks)

"""The admin's front page: today's edition, the 30-day charts, sources, queue, workers, beat."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from digest import editions
from digest.models import Delivery, DigestRun, FetchRun, TrackingEvent
from ops import health
from ops.models import Heartbeat
from tests.ops.conftest import at

INDEX = "/admin/"


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def review_run(settings, subscriber_factory, paper_trend_factory, today):
    settings.DIGEST_REQUIRE_APPROVAL = True
    for i in range(3):
        paper_trend_factory(day=today, paper__title=f"Diffusion models, part {i}")
    subscriber_factory(email="ada@example.com")
    subscriber_factory(email="alan@example.com")
    return editions.digest_run_build(day=today)


def _section(body: str, element_id: str) -> str:
    return body.split(f'id="{element_id}"', 1)[1].split("</table>", 1)[0]


def _cells(row_html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)
    ]


def test_it_is_the_admins_front_page_and_needs_a_login(client, admin_client, db):
    assert client.get(INDEX).status_code == 302
    body = admin_client.get(INDEX).content.decode()
    assert "<title>Today at a glance | Paper Digest admin</title>" in body
    assert "Paper Digest</a>" in body
    assert "No edition yet." in body


def test_todays_edition_waiting_for_review_has_an_approve_button_that_sends(
    admin_client, review_run, mailoutbox, django_capture_on_commit_callbacks
):
    body = admin_client.get(INDEX).content.decode()
    assert "Today&#x27;s edition" in body or "Today's edition" in body
    assert "Awaiting review" in _section(body, "editions")
    review = body.split('class="ops-review"', 1)[1].split("</div>", 1)[0]
    approve = reverse("admin:digest_digestrun_approve", args=[review_run.pk])
    assert f'action="{approve}"' in review
    assert "Approve and send" in review
    assert reverse("admin:digest_digestrun_preview", args=[review_run.pk]) in review

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(approve, {"next": INDEX})

    assert response.status_code == 302 and response["Location"] == INDEX
    review_run.refresh_from_db()
    assert review_run.status == DigestRun.Status.DONE and len(mailoutbox) == 2
    after = admin_client.get(INDEX).content.decode()
    assert "Approve and send" not in after
    assert "Done" in _section(after, "editions") and "100%" in _section(after, "editions")


def test_the_approve_button_does_not_redirect_off_site(admin_client, review_run):
    approve = reverse("admin:digest_digestrun_approve", args=[review_run.pk])
    response = admin_client.post(approve, {"next": "https://evil.example/"})
    assert response["Location"] == reverse("admin:digest_digestrun_change", args=[review_run.pk])


def test_the_edition_counts_come_from_events(admin_client, review_run):
    DigestRun.objects.filter(pk=review_run.pk).update(status=DigestRun.Status.DONE)
    first, second = Delivery.objects.order_by("pk")
    # A soft bounce that was opened and clicked later: its status stays "bounced".
    Delivery.objects.filter(pk=first.pk).update(status="bounced", sent_at=timezone.now())
    Delivery.objects.filter(pk=second.pk).update(status="sent", sent_at=timezone.now())
    for i, kind in enumerate(["delivered", "bounced", "opened", "clicked"]):
        TrackingEvent.objects.create(event_id=f"e{i}", event_type=kind, delivery=first)

    row = _section(admin_client.get(INDEX).content.decode(), "editions").split("<tbody>")[1]
    cells = _cells(row)
    # edition, status, planned, sent, failed, delivered, opened, clicked, bounced, progress
    assert cells[1:9] == ["Done", "2", "2", "0", "1", "1", "1", "1"]


def test_the_latest_edition_shows_when_none_is_dated_today(admin_client, db, today):
    DigestRun.objects.create(edition_date=today - timedelta(days=3), status="done")
    body = admin_client.get(INDEX).content.decode()
    assert "Latest edition:" in body
    assert "No edition is dated today" in body


def test_the_charts_show_30_days_of_numbers_from_the_rows(admin_client, review_run, today):
    first, second = Delivery.objects.order_by("pk")
    two_days_ago = today - timedelta(days=2)
    Delivery.objects.filter(pk=first.pk).update(status="clicked", sent_at=at(two_days_ago))
    Delivery.objects.filter(pk=second.pk).update(status="bounced", sent_at=at(today))

    body = admin_client.get(INDEX).content.decode()

    assert body.count('class="ops-chart"') == 3
    assert "<title id=" in body and "<desc id=" in body
    emails = body.split("<figcaption>Emails per day (by day sent)</figcaption>", 1)[1]
    table = emails.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    assert len(rows) == 30
    # Day, sent, delivered, opened, clicked.
    assert _cells(rows[-3])[1:] == ["1", "1", "1", "1"]
    assert _cells(rows[-1])[1:] == ["1", "0", "0", "0"]
    assert unescape(f"sent, {two_days_ago.isoformat()}: 1") in body
    problems = body.split("<figcaption>Problems per day</figcaption>", 1)[1]
    last = re.findall(r"<tr>(.*?)</tr>", problems.split("<tbody>", 1)[1], re.S)[29]
    assert _cells(last)[1:] == ["1", "0", "0"]  # bounced, complained, unsubscribed
    readers = body.split("<figcaption>Readers per day</figcaption>", 1)[1]
    last = re.findall(r"<tr>(.*?)</tr>", readers.split("<tbody>", 1)[1], re.S)[29]
    assert _cells(last)[1] == "2"  # two readers created today


def test_each_source_shows_its_last_fetch(admin_client, db, today, settings):
    settings.DIGEST_SOURCES = ["hf_api", "arxiv_rss"]
    with time_machine.travel(timezone.now() - timedelta(hours=5)):
        FetchRun.objects.create(
            source="hf_api",
            day=today,
            status="ok",
            new_count=12,
            updated_count=3,
            finished_at=timezone.now(),
        )
    FetchRun.objects.create(
        source="hf_api", day=today, status="failed", error_count=1, error_text="HTTP 503"
    )

    sources = _section(admin_client.get(INDEX).content.decode(), "sources")

    hf_api = _cells(sources.split('<th scope="row">hf_api</th>')[1].split("</tr>")[0])
    assert (
        hf_api[1:4] == ["Failed", "0", "0"] and hf_api[4] == "1"
    )  # status, papers, skipped, errors
    assert "5\xa0hours ago" in hf_api[6]  # the last success
    assert "Never fetched." in sources.split("arxiv_rss")[1]


def test_it_shows_queue_depth_workers_beat_and_suppressions(
    admin_client, db, subscriber_factory, monkeypatch
):
    # The broker is shared with whatever else ran on it: the depth it reports is pinned
    # here (tests/ops/test_metrics.py reads the real broker).
    monkeypatch.setattr(health, "queue_depth", lambda: {"celery": 0})
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(seconds=30))
    Heartbeat.objects.create(name="worker", at=timezone.now() - timedelta(hours=1))
    subscriber_factory(status="unsubscribed").consents.create(unsubscribe_method="bounce")

    body = admin_client.get(INDEX).content.decode()
    background = body.split('id="background"', 1)[1]

    assert re.search(r"Queue depth\s*<span class=\"value\">\s*0\s*</span>", background)
    assert re.search(r"Workers\s*<span class=\"value ops-bad\">not seen", background)
    assert "last heartbeat 1\xa0hour ago" in background
    assert re.search(r"Beat\s*<span class=\"value ops-ok\">\s*alive", background)
    suppressed = background.split('id="suppressions"', 1)[1]
    assert re.search(r'<span class="value">1</span>', suppressed)
    assert "1 bounced · 0 complained" in suppressed

"""The admin that fits (issue #14): read-only pages, picks as a table, ellipsis titles,
filters and search, and the CSV export of a run's deliveries."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from digest import editions
from digest.models import Delivery, DigestRun, TrackingEvent


@pytest.fixture
def run(subscriber_factory, papers, day, settings):
    settings.DIGEST_REQUIRE_APPROVAL = True
    subscriber_factory(email="ada@example.com", timezone="Europe/Berlin")
    subscriber_factory(email="=cmd@example.com", timezone="America/New_York")
    return editions.digest_run_build(day=day)


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_run_and_delivery_pages_are_read_only_without_save_buttons(admin_client, run):
    for url in (
        reverse("admin:digest_digestrun_change", args=[run.pk]),
        reverse("admin:digest_delivery_change", args=[Delivery.objects.first().pk]),
    ):
        body = admin_client.get(url).content.decode()
        assert 'name="_save"' not in body
        assert 'name="_continue"' not in body
        assert 'name="_addanother"' not in body


def test_a_deliverys_picks_are_a_table_of_rank_paper_score_and_reason(admin_client, run):
    delivery = Delivery.objects.get(subscriber__email="ada@example.com")
    body = admin_client.get(reverse("admin:digest_delivery_change", args=[delivery.pk])).content
    body = body.decode()
    table = body.split('<table class="ops-picks">', 1)[1].split("</table>", 1)[0]
    assert ">Rank</th>" in table and ">Paper</th>" in table and ">Score</th>" in table
    first = delivery.picks[0]
    assert (
        f'<td class="rank">1</td><td><a href="https://arxiv.org/abs/{first["arxiv_id"]}">' in table
    )
    assert f'<td class="score">{first["score"]:.3f}</td>' in table
    title = run.papers[first["arxiv_id"]]["title"]
    assert f'<span class="ops-ellipsis" title="{title}">{title}</span>' in table
    assert '"arxiv_id"' not in body  # no raw JSON


def test_titles_are_cut_by_an_ellipsis_with_the_whole_title_on_hover(admin_client, paper_factory):
    long_title = "A very long title about diffusion models " * 5
    paper_factory(title=long_title)
    body = admin_client.get(reverse("admin:digest_paper_changelist")).content.decode()
    assert f'<span class="ops-ellipsis" title="{long_title}">{long_title}</span>' in body


def test_the_run_list_fits_in_nine_columns(admin_client, run):
    body = admin_client.get(reverse("admin:digest_digestrun_changelist")).content.decode()
    header = body.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert header.count('scope="col"') == 10  # the checkbox and nine columns
    assert "0 / 2" in body  # sent of planned, beside the bar


def test_readers_filter_by_status_frequency_and_time_zone(admin_client, run, subscriber_factory):
    subscriber_factory(email="weekly@example.com", frequency="weekly", timezone="Europe/Berlin")
    subscriber_factory(email="gone@example.com", status="unsubscribed")
    url = reverse("admin:subscriptions_subscriber_changelist")

    def emails(**query) -> set[str]:
        body = admin_client.get(url, query).content.decode()
        return {e for e in ("ada", "=cmd", "weekly", "gone") if f">{e}@example.com<" in body}

    assert emails(timezone="Europe/Berlin") == {"ada", "weekly"}
    assert emails(frequency__exact="weekly") == {"weekly"}
    assert emails(status__exact="unsubscribed") == {"gone"}
    assert emails(q="weekly") == {"weekly"}
    assert "By timezone" in admin_client.get(url).content.decode()


def test_deliveries_filter_by_run_and_status(admin_client, run, day):
    other = DigestRun.objects.create(edition_date=day.replace(day=1), status="done")
    Delivery.objects.create(run=other, subscriber=Delivery.objects.first().subscriber)
    url = reverse("admin:digest_delivery_changelist")
    assert "2 deliveries" in admin_client.get(url, {"run__id__exact": run.pk}).content.decode()
    assert "1 delivery" in admin_client.get(url, {"run__id__exact": other.pk}).content.decode()
    Delivery.objects.filter(run=run, subscriber__email="ada@example.com").update(status="failed")
    body = admin_client.get(url, {"run__id__exact": run.pk, "status__exact": "failed"})
    assert "1 delivery" in body.content.decode()


def test_a_runs_deliveries_export_as_csv_with_the_stages_they_reached(admin_client, run):
    ada = Delivery.objects.get(subscriber__email="ada@example.com")
    Delivery.objects.filter(pk=ada.pk).update(status="bounced", attempts=1)
    TrackingEvent.objects.create(event_id="x1", event_type="opened", delivery=ada)

    response = admin_client.get(reverse("admin:digest_digestrun_export", args=[run.pk]))

    assert response["Content-Disposition"] == (
        f'attachment; filename="deliveries-daily-{run.edition_date}.csv"'
    )
    header, *rows = _csv(response)
    assert header[:4] == ["delivery_id", "edition", "email", "status"]
    by_email = {row[2]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_email) == {"ada@example.com", "'=cmd@example.com"}  # no formula injection
    assert by_email["ada@example.com"]["reached_sent"] == "1"
    assert by_email["ada@example.com"]["reached_opened"] == "1"
    assert by_email["ada@example.com"]["reached_bounced"] == "1"
    assert by_email["ada@example.com"]["reached_clicked"] == "0"
    assert by_email["'=cmd@example.com"]["status"] == "planned"


def test_the_export_is_also_an_action_on_the_run_list(admin_client, run):
    response = admin_client.post(
        reverse("admin:digest_digestrun_changelist"),
        {"action": "export_deliveries_csv", "_selected_action": [run.pk]},
    )
    header, *rows = _csv(response)
    assert len(rows) == 2 and header[0] == "delivery_id"


def test_the_run_page_shows_the_stages_reached_from_events(admin_client, run):
    ada = Delivery.objects.get(subscriber__email="ada@example.com")
    Delivery.objects.filter(pk=ada.pk).update(status="bounced")
    TrackingEvent.objects.create(event_id="x1", event_type="clicked", delivery=ada)
    body = admin_client.get(reverse("admin:digest_digestrun_change", args=[run.pk])).content
    funnel = body.decode().split('id="run-funnel"', 1)[1].split("</div>", 1)[0]
    assert "1 sent · 1 delivered · 1 opened · 1 clicked · 1 bounced · 0 complained" in funnel

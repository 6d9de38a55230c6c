"""manage.py rank_papers --subscriber: a stored reader's email of a day, previewed."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from digest import editions
from digest.models import Delivery
from subscriptions.models import PaperFeedback, Subscriber
from tests.digest.conftest import DAY as day

pytestmark = pytest.mark.django_db


def _rank(*args: str) -> list[dict]:
    out = StringIO()
    call_command("rank_papers", "--json", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


@pytest.fixture
def reader(subscriber_factory, papers):
    papers[2].categories = ["cs.CL"]
    papers[2].save()
    subscriber = subscriber_factory(
        email="Reader@Example.com", categories=["cs.CL"], digest_size=4, followed_authors=[]
    )
    PaperFeedback.objects.create(subscriber=subscriber, arxiv_id=papers[0].arxiv_id, kind="like")
    return subscriber


def test_it_gives_the_picks_scores_and_reasons_of_the_readers_email(reader):
    rows = _rank("--subscriber", "reader@example.com", "--date", day.isoformat())

    editions.digest_run_build(day=day)
    picks = Delivery.objects.get(subscriber=reader).picks
    assert [(r["arxiv_id"], r["score"], r["reason"]) for r in rows] == [
        (p["arxiv_id"], p["score"], p["reason"]) for p in picks
    ]
    assert len(rows) == 4  # the reader's digest size
    assert any("in cs.CL" in r["reason"] for r in rows)


def test_it_leaves_out_what_an_earlier_email_already_sent(reader, papers, paper_trend_factory):
    editions.digest_run_build(day=day)
    first = {p["arxiv_id"] for p in Delivery.objects.get(subscriber=reader).picks}
    tomorrow = day + timedelta(days=1)
    for paper in papers:
        paper_trend_factory(paper=paper, day=tomorrow)

    rows = _rank("--subscriber", reader.email, "--date", tomorrow.isoformat())

    assert {r["arxiv_id"] for r in rows} == {p.arxiv_id for p in papers[1:]} - first


def test_it_ranks_a_weekly_readers_week(reader, papers):
    reader.frequency = "weekly"
    reader.save()

    rows = _rank("--subscriber", reader.email, "--date", (day + timedelta(days=3)).isoformat())

    assert {r["arxiv_id"] for r in rows} <= {p.arxiv_id for p in papers}
    assert len(rows) == 4


def test_it_defaults_to_the_latest_trending_day_and_prints_a_list(reader, papers):
    out = StringIO()
    call_command("rank_papers", "--subscriber", reader.email, "--top", "2", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith(" 1. ")
    titles = {p.title for p in papers}
    assert any(title in lines[0] for title in titles)


def test_it_says_when_the_reader_would_get_no_email(reader):
    reader.status = Subscriber.Status.UNSUBSCRIBED
    reader.save()
    err = StringIO()

    call_command(
        "rank_papers", "--subscriber", reader.email, "--json", stdout=StringIO(), stderr=err
    )

    assert "unsubscribed: no email goes out" in err.getvalue()


def test_a_day_without_papers_gives_an_empty_list_and_says_so(reader):
    err, out = StringIO(), StringIO()
    call_command(
        "rank_papers", "--subscriber", reader.email, "--date", "2020-01-01", "--json",
        stdout=out, stderr=err,
    )  # fmt: skip
    assert json.loads(out.getvalue()) == []
    assert "No papers for the daily edition of 2020-01-01" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subscriber", "nobody@example.com"], "no subscriber with the address"),
        (
            ["--subscriber", "reader@example.com", "--interests", "x"],
            "--interests go with --papers",
        ),
        (["--subscriber", "reader@example.com", "--date", "2026-13-01"], "not a YYYY-MM-DD date"),
        (["--papers", "x.jsonl", "--subscriber", "reader@example.com"], "not allowed with"),
        (["--papers", "x.jsonl", "--date", "2026-11-17"], "--date goes with --subscriber"),
        ([], "one of the arguments --papers --subscriber is required"),
    ],
)
def test_bad_usage_is_a_clear_error(reader, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rank_papers", *args, stdout=StringIO())


def test_a_deleted_reader_is_not_found(reader):
    address = reader.email
    reader.deleted_at = reader.confirmed_at
    reader.save()
    with pytest.raises(CommandError, match="no subscriber"):
        call_command("rank_papers", "--subscriber", address, stdout=StringIO())

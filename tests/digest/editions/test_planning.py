"""The build's picks snapshot: what the ranker picked, written as JSON without Pick objects."""

from __future__ import annotations

import json
from datetime import date, timedelta

from digest import editions
from digest.catalogue import selectors
from digest.editions import planning as build
from digest.models import Delivery, DigestRun
from digest.ranking import Ranker
from digest.ranking.inputs import (
    candidate_from_paper,
    profiles_for_subscribers,
    reference_candidates,
)
from subscriptions.models import PaperFeedback, Subscriber
from tests.digest.conftest import TITLES


def _expected_picks(day, subscribers, reference_ids=()):
    papers = selectors.paper_list_for_day(day=day)
    candidates = [candidate_from_paper(p, today=day) for p in papers]
    reference = reference_candidates(sorted(reference_ids), today=day)
    ranked = Ranker(candidates, reference=reference).rank(profiles_for_subscribers(subscribers))
    return {
        sub.pk: [
            {"arxiv_id": p.arxiv_id, "score": round(p.score, 4), "reason": p.reason} for p in picks
        ]
        for sub, picks in zip(subscribers, ranked, strict=True)
    }


def test_the_snapshot_is_the_rankers_picks_in_any_batch_size(
    subscriber_factory, paper_factory, papers, day, monkeypatch
):
    old = paper_factory(arxiv_id="2401.00001", title="Long video diffusion, an older paper")
    readers = [
        subscriber_factory(interests="video generation, diffusion", digest_size=3),
        subscriber_factory(interests="", categories=["cs.CL"], digest_size=5),
        subscriber_factory(interests="protein folding", followed_authors=["Nobody"]),
    ]
    PaperFeedback.objects.create(subscriber=readers[1], arxiv_id=old.arxiv_id, kind="like")
    expected = _expected_picks(day, readers, reference_ids=[old.arxiv_id])
    assert all(expected.values())

    monkeypatch.setattr(build, "PLAN_BATCH", 2)  # one ranker across batches
    run = editions.digest_run_build(day=day)
    got = dict(Delivery.objects.filter(run=run).values_list("subscriber_id", "picks"))
    assert got == expected


def test_the_json_of_the_snapshot_survives_quotes_and_non_ascii_reasons(papers, day):
    candidates = [candidate_from_paper(p, today=day) for p in papers]
    profiles = profiles_for_subscribers(
        [Subscriber(pk=1, interests='"quoted" diffusion, vidéo', digest_size=4)]
    )
    columns = Ranker(candidates).rank_columns(profiles)
    columns.reason_texts[:] = ['say "hi" \\ to “vidéo”\n' for _ in columns.reason_texts]
    ((key, text),) = build._PicksJson(candidates).rows([1], columns)
    picks = json.loads(text)
    assert key == 1 and len(picks) == 4
    assert [set(p) for p in picks] == [{"arxiv_id", "score", "reason"}] * 4
    assert picks[0]["reason"] == 'say "hi" \\ to “vidéo”\n'
    assert picks[0]["score"] == round(float(columns.score[0]), 4)


def test_it_plans_nobody_twice_and_skips_paused_subscribers(subscriber_factory, papers, day):
    due = subscriber_factory()
    subscriber_factory(paused_until=day)
    subscriber_factory(paused_until=day - timedelta(days=1))  # paused until yesterday: due
    run = editions.digest_run_build(day=day)
    assert Delivery.objects.filter(run=run).count() == 2
    editions.digest_run_build(day=day)
    assert Delivery.objects.filter(run=run).count() == 2
    assert Delivery.objects.filter(run=run, subscriber=due).exists()


def test_only_todays_papers_already_sent_are_excluded(subscriber_factory, papers, day):
    reader = subscriber_factory(digest_size=2)
    first = editions.digest_run_build(day=day)
    sent = {p["arxiv_id"] for p in Delivery.objects.get(run=first).picks}
    next_day = day + timedelta(days=1)
    later = DigestRun.objects.create(edition_date=next_day, papers={})
    exclude = build._already_sent(
        run=later, subscriber_ids={reader.pk}, arxiv_ids={papers[0].arxiv_id, "none.00000"}
    )
    assert exclude == ({reader.pk: {papers[0].arxiv_id}} if papers[0].arxiv_id in sent else {})
    assert build._already_sent(run=later, subscriber_ids={reader.pk}, arxiv_ids=sent) == {
        reader.pk: sent
    }
    assert build._already_sent(run=later, subscriber_ids={reader.pk + 1}, arxiv_ids=sent) == {}


def test_a_weekly_edition_carries_the_seven_days_before_its_date(
    subscriber_factory, paper_trend_factory
):
    friday = date(2026, 11, 20)
    reader = subscriber_factory(frequency="weekly", weekday=friday.weekday(), digest_size=10)
    titles = iter([*TITLES, "Sparse attention for speech recognition"])
    in_window = {
        paper_trend_factory(
            day=friday - timedelta(days=n), paper__title=next(titles)
        ).paper.arxiv_id
        for n in (1, 2, 7)  # Thursday, Wednesday, last Friday
    }
    for n in (0, 8, 10):  # the edition's own day, and before the seven days
        paper_trend_factory(day=friday - timedelta(days=n), paper__title=next(titles))
    run = editions.digest_run_build(day=friday, frequency="weekly")
    assert (run.frequency, run.week) == ("weekly", "2026-W47")
    assert set(run.papers) == in_window
    picks = Delivery.objects.get(run=run, subscriber=reader).picks
    assert {p["arxiv_id"] for p in picks} == in_window


def test_a_reader_another_planner_won_meanwhile_is_skipped_not_an_error(
    subscriber_factory, papers, day
):
    won, new = subscriber_factory.create_batch(2)
    run = DigestRun.objects.create(edition_date=day)
    Delivery.objects.create(run=run, subscriber=won, picks=[{"arxiv_id": "theirs"}])
    mine = '[{"arxiv_id": "2607.00001", "score": 0.5, "reason": "r"}]'
    build._insert_deliveries(run, [(won.pk, mine), (new.pk, mine)])
    picks = dict(Delivery.objects.values_list("subscriber_id", "picks"))
    assert picks == {won.pk: [{"arxiv_id": "theirs"}], new.pk: json.loads(mine)}


def test_the_picks_json_is_what_json_dumps_writes_for_each_rounded_score(papers, day):
    candidates = [candidate_from_paper(p, today=day) for p in papers]
    profiles = profiles_for_subscribers(
        [Subscriber(pk=i, interests="diffusion, video", digest_size=5) for i in (1, 2, 3)]
    )
    columns = Ranker(candidates).rank_columns(profiles)
    # Equal scores share one text; -0.0 is written as the 0.0 it equals.
    columns.score[:] = [
        (-0.0, 0.123449, 0.12345, 1 / 3, 2.0)[i % 5] for i in range(len(columns.score))
    ]
    rows = build._PicksJson(candidates).rows([1, 2, 3], columns)
    assert [key for key, _ in rows] == [1, 2, 3]
    for key, text in rows:
        got = json.loads(text)
        start, end = columns.offsets[key - 1], columns.offsets[key]
        expected = [
            {
                "arxiv_id": candidates[columns.paper[i]].arxiv_id,
                "score": round(float(columns.score[i]), 4) + 0.0,
                "reason": columns.reason_texts[columns.reason[i]],
            }
            for i in range(start, end)
        ]
        assert got == expected
        assert text == json.dumps(expected, separators=(",", ":"))

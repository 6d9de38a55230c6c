from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from digest.ranking import Candidate, Profile
from digest.ranking import inputs as ranking_inputs
from digest.ranking.inputs import (
    SubscriberInputs,
    candidate_from_paper,
    feedback_by_subscriber,
    profiles_for_subscribers,
    reference_candidates,
    subscriber_inputs,
)
from subscriptions.models import PaperFeedback, Subscriber

TODAY = date(2026, 7, 10)


@pytest.mark.django_db
def test_it_builds_a_candidate_from_a_catalogue_paper(paper_factory):
    paper = paper_factory(
        arxiv_id="2607.01234",
        title="Video diffusion",
        abstract="Long videos.",
        authors=["Ada Lovelace"],
        ai_keywords=["video diffusion"],
        categories=["cs.CV"],
        upvotes=42,
        published_at=datetime(2026, 7, 7, 12, tzinfo=UTC),
    )
    candidate = candidate_from_paper(paper, today=TODAY)
    assert candidate.arxiv_id == "2607.01234"
    assert candidate.authors == ("Ada Lovelace",)
    assert candidate.ai_keywords == ("video diffusion",)
    assert candidate.categories == ("cs.CV",)
    assert candidate.upvotes == 42
    assert candidate.age_days == 3.0


@pytest.mark.django_db
def test_it_builds_profiles_with_feedback_in_one_query(
    subscriber_factory, django_assert_num_queries
):
    ada = subscriber_factory(
        interests="diffusion models; RAG\nrobots",
        categories=["cs.CV"],
        followed_authors=["Yann LeCun"],
        digest_size=5,
    )
    bob = subscriber_factory(interests="")
    PaperFeedback.objects.create(subscriber=ada, arxiv_id="2607.1", kind="like")
    PaperFeedback.objects.create(subscriber=ada, arxiv_id="2607.2", kind="dislike")
    PaperFeedback.objects.create(subscriber=bob, arxiv_id="2607.3", kind="like")
    with django_assert_num_queries(1):
        profiles = profiles_for_subscribers([ada, bob], exclude={ada.pk: {"2607.9"}})
    assert profiles == [
        Profile(
            key=ada.pk,
            interests=("diffusion models", "RAG", "robots"),
            categories=("cs.CV",),
            liked=("2607.1",),
            disliked=("2607.2",),
            authors=("Yann LeCun",),
            exclude=frozenset({"2607.9"}),
            k=5,
        ),
        Profile(key=bob.pk, liked=("2607.3",), k=10),
    ]


@pytest.mark.django_db
def test_it_reads_reference_papers_from_the_catalogue(paper_factory):
    paper_factory(arxiv_id="2601.00001", title="Liked long ago")
    paper_factory(arxiv_id="2601.00002", title="Not asked for")
    found = reference_candidates(["2601.00001", "2601.00001", "9999.99999"], today=TODAY)
    assert [c.title for c in found] == ["Liked long ago"]


@pytest.mark.django_db
@pytest.mark.parametrize("in_list_max", [5_000, 1])  # an IN list, or the id range
def test_it_reads_only_the_asked_subscribers_feedback_oldest_first(
    subscriber_factory, monkeypatch, in_list_max
):
    monkeypatch.setattr(ranking_inputs, "_IN_LIST_MAX", in_list_max)
    ada, bob, eve = subscriber_factory.create_batch(3)
    for arxiv_id, kind in [("2607.3", "like"), ("2607.1", "dislike"), ("2607.2", "like")]:
        PaperFeedback.objects.create(subscriber=ada, arxiv_id=arxiv_id, kind=kind)
    PaperFeedback.objects.create(subscriber=bob, arxiv_id="2607.4", kind="like")
    PaperFeedback.objects.create(subscriber=eve, arxiv_id="2607.5", kind="like")
    assert feedback_by_subscriber([ada.pk, eve.pk]) == {
        ada.pk: {"like": ["2607.3", "2607.2"], "dislike": ["2607.1"]},
        eve.pk: {"like": ["2607.5"], "dislike": []},
    }
    assert feedback_by_subscriber([]) == {}


@pytest.mark.django_db
def test_subscriber_inputs_make_the_same_profiles_as_subscribers(subscriber_factory):
    ada = subscriber_factory(
        interests="diffusion models; RAG",
        categories=["cs.CV", "cs.LG"],
        followed_authors=["Yann LeCun"],
        digest_size=5,
        frequency="weekly",
        weekday=2,
        paused_until=date(2026, 7, 1),
        send_hour=9,
        timezone="Europe/Paris",
    )
    bob = subscriber_factory(interests="", categories=["cs.CV", "cs.LG"])
    rows = subscriber_inputs(Subscriber.objects.order_by("pk"))
    assert rows[0] == SubscriberInputs(
        pk=ada.pk,
        interests="diffusion models; RAG",
        categories=("cs.CV", "cs.LG"),
        followed_authors=("Yann LeCun",),
        digest_size=5,
        frequency="weekly",
        weekday=2,
        paused_until=date(2026, 7, 1),
        send_hour=9,
        timezone="Europe/Paris",
    )
    assert rows[1].categories is rows[0].categories  # decoded once per distinct value
    assert profiles_for_subscribers(rows) == profiles_for_subscribers([ada, bob])


@pytest.mark.django_db
def test_a_more_like_this_click_puts_the_paper_in_the_profile(
    subscriber_factory, paper_factory, client
):
    from digest.ranking import Candidate, rank_for_all
    from subscriptions import tokens

    reader = subscriber_factory(interests="")
    paper_factory(
        arxiv_id="2601.00001",
        title="Gaussian splatting for dynamic scenes",
        abstract="We fit 3D Gaussian splatting to dynamic scenes in real time.",
    )
    url = tokens.feedback_url(reader, "2601.00001", "like").removeprefix("http://testserver")
    assert client.post(url).status_code == 200  # the button of the scanner-safe page
    (profile,) = profiles_for_subscribers([reader])
    assert profile.liked == ("2601.00001",)
    today = [
        Candidate("x", "Mobile Gaussian splatting", "Real-time 3D Gaussian splatting on phones."),
        Candidate("y", "Tabular learning benchmarks", "Tree models on tables.", upvotes=9),
    ]
    reference = reference_candidates(profile.liked, today=TODAY)
    (picks,) = rank_for_all(today, [profile], reference=reference)
    assert picks[0].arxiv_id == "x"
    assert picks[0].reason.startswith("similar to 'Gaussian splatting for dynamic scenes'")


@pytest.mark.django_db
def test_paper_vectors_are_embedded_once_and_kept_in_the_database(settings):
    from digest.models import PaperEmbedding
    from digest.ranking import semantic as ranking_semantic
    from digest.ranking.inputs import load_paper_vectors

    settings.DIGEST_SEMANTIC = True
    papers = [
        Candidate("2601.00001", "Mobile Gaussian splatting", "Real-time splatting on phones."),
        Candidate("2601.00002", "Tabular learning", ""),  # empty abstract: title only
    ]
    assert load_paper_vectors(papers) == 2
    stored = PaperEmbedding.objects.get(arxiv_id="2601.00001")
    assert stored.model == ranking_semantic.WORDLLAMA_NAME
    assert len(bytes(stored.vector)) == 256 * 4
    assert load_paper_vectors(papers) == 0  # in the process cache already
    ranking_semantic.use_encoder(None)  # a new process: read from the database
    assert load_paper_vectors(papers) == 0
    assert PaperEmbedding.objects.count() == 2
    cached = ranking_semantic.cached_vectors(["2601.00001"])["2601.00001"]
    assert np.array_equal(cached, np.frombuffer(bytes(stored.vector), "<f4"))

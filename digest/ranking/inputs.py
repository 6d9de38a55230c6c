"""Inputs of the ranker, read from the database in bulk (the ORM side of digest/ranking/)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import NamedTuple, Protocol

import numpy as np
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from digest.models import Paper, PaperEmbedding
from digest.ranking import Candidate, Profile, parse_interests
from digest.ranking import semantic as ranking_semantic
from subscriptions.models import PaperFeedback, Subscriber

# SQLite caps the number of parameters of one statement (32,766 since 3.32).
_IN_BATCH = 20_000
# Above this many subscribers their feedback is read by id range, not by an IN list.
_IN_LIST_MAX = 5_000
_NO_FEEDBACK: dict[str, list[str]] = {}

log = logging.getLogger(__name__)


class RankedSubscriber(Protocol):
    """What a Profile is made of: a Subscriber or a SubscriberInputs row."""

    @property
    def pk(self) -> int: ...
    @property
    def interests(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def followed_authors(self) -> Sequence[str]: ...
    @property
    def digest_size(self) -> int: ...


def candidate_from_paper(paper: Paper, *, today: date) -> Candidate:
    seen = paper.published_at or paper.first_seen_at
    age = (today - seen.date()).days if seen else 0
    return Candidate(
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(str(a) for a in paper.authors or ()),
        ai_keywords=tuple(str(k) for k in paper.ai_keywords or ()),
        categories=tuple(str(c) for c in paper.categories or ()),
        upvotes=paper.upvotes,
        age_days=float(max(age, 0)),
    )


class SubscriberInputs(NamedTuple):
    """What ranking and scheduling read of a subscriber, without a model instance.

    Loading 100,000 Subscriber instances costs seconds; these rows a fraction of that.
    Anything with these attributes (a Subscriber too) is accepted where they are used.
    """

    pk: int
    interests: str
    categories: Sequence[str]
    followed_authors: Sequence[str]
    digest_size: int
    frequency: str
    weekday: int
    paused_until: date | None
    send_hour: int
    timezone: str


def subscriber_inputs(subscribers: QuerySet[Subscriber]) -> list[SubscriberInputs]:
    # The JSON lists are read as text and decoded once per distinct value: most
    # subscribers share a few category choices and follow no author.
    rows = subscribers.annotate(
        categories_json=Cast("categories", TextField()),
        authors_json=Cast("followed_authors", TextField()),
    ).values_list(
        "pk",
        "interests",
        "categories_json",
        "authors_json",
        "digest_size",
        "frequency",
        "weekday",
        "paused_until",
        "send_hour",
        "timezone",
    )
    decoded: dict[str | None, tuple[str, ...]] = {None: ()}

    def strings(text: str | None) -> tuple[str, ...]:
        value = decoded.get(text)
        if value is None:
            # None is decoded[None] already: text is a JSON string here.
            value = decoded[text] = tuple(str(item) for item in json.loads(str(text)) or ())
        return value

    return [
        SubscriberInputs(pk, interests, strings(cats), strings(authors), *rest)  # type: ignore[arg-type]
        for pk, interests, cats, authors, *rest in rows
    ]


def profiles_for_subscribers(
    subscribers: Sequence[RankedSubscriber],
    *,
    exclude: Mapping[int, Iterable[str]] | None = None,
    feedback: Mapping[int, Mapping[str, list[str]]] | None = None,
) -> list[Profile]:
    """One Profile per subscriber, same order; all their feedback read in one query.

    ``exclude`` maps a subscriber id to the arXiv ids already sent to them; ``feedback``
    is feedback_by_subscriber() of (at least) these subscribers, if already read.
    """
    if feedback is None:
        feedback = feedback_by_subscriber([s.pk for s in subscribers])
    exclude = exclude or {}
    parsed: dict[str, tuple[str, ...]] = {}  # many subscribers share their interests text
    profiles = []
    for s in subscribers:
        interests = parsed.get(s.interests)
        if interests is None:
            interests = parsed[s.interests] = parse_interests(s.interests)
        profiles.append(
            _profile(s, interests, feedback.get(s.pk, _NO_FEEDBACK), exclude.get(s.pk, ()))
        )
    return profiles


def reference_candidates(arxiv_ids: Iterable[str], *, today: date) -> list[Candidate]:
    """Catalogue papers for these ids (liked or disliked papers that are not today's)."""
    ids = list(dict.fromkeys(arxiv_ids))
    papers: list[Paper] = []
    for start in range(0, len(ids), _IN_BATCH):
        papers += Paper.objects.filter(arxiv_id__in=ids[start : start + _IN_BATCH])
    return [candidate_from_paper(p, today=today) for p in papers]


def feedback_by_subscriber(ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Liked and disliked arXiv ids of each subscriber, oldest first, in one query."""
    wanted = set(ids)
    out: dict[int, dict[str, list[str]]] = {}
    if not wanted:
        return out
    rows = PaperFeedback.objects.order_by("created_at", "pk").values_list(
        "subscriber_id", "arxiv_id", "kind"
    )
    if len(wanted) <= _IN_LIST_MAX:
        rows = rows.filter(subscriber_id__in=sorted(wanted))
    else:
        # A whole edition: sending and planning an IN list of 100,000 ids costs more than
        # reading the id range and dropping the few rows of others here.
        rows = rows.filter(subscriber_id__gte=min(wanted), subscriber_id__lte=max(wanted))
    for subscriber_id, arxiv_id, kind in rows:
        if subscriber_id in wanted:
            out.setdefault(subscriber_id, {"like": [], "dislike": []})[kind].append(arxiv_id)
    return out


def _profile(
    subscriber: RankedSubscriber,
    interests: tuple[str, ...],
    feedback: Mapping[str, list[str]],
    sent: Iterable[str],
) -> Profile:
    return Profile(
        key=subscriber.pk,
        interests=interests,
        categories=tuple(str(c) for c in subscriber.categories or ()),
        liked=tuple(feedback.get(PaperFeedback.Kind.LIKE, ())),
        disliked=tuple(feedback.get(PaperFeedback.Kind.DISLIKE, ())),
        authors=tuple(str(a) for a in subscriber.followed_authors or ()),
        exclude=frozenset(sent),
        k=subscriber.digest_size,
    )


def load_paper_vectors(papers: Sequence[Candidate]) -> int:
    """Make the embeddings of these papers ready for the ranker: read the stored ones
    into its cache, embed the others once (one batch) and store them. Returns how many
    were embedded now. Without a usable model it does nothing (the ranker then stays
    lexical and says so once)."""
    ids = list(dict.fromkeys(p.arxiv_id for p in papers))
    if not ids or ranking_semantic.get_encoder() is None:
        return 0
    model = ranking_semantic.model_name()
    missing = set(ids) - ranking_semantic.cached_vectors(ids).keys()
    stored: dict[str, np.ndarray] = {}
    wanted = sorted(missing)
    for start in range(0, len(wanted), _IN_BATCH):
        rows = PaperEmbedding.objects.filter(
            model=model, arxiv_id__in=wanted[start : start + _IN_BATCH]
        ).values_list("arxiv_id", "vector")
        stored.update({a: np.frombuffer(bytes(v), "<f4") for a, v in rows})
    ranking_semantic.remember(stored)
    todo = [
        p for p in {p.arxiv_id: p for p in papers}.values() if p.arxiv_id in missing - stored.keys()
    ]
    fresh = ranking_semantic.paper_vectors(todo)
    if fresh is None or not todo:
        return 0
    PaperEmbedding.objects.bulk_create(
        [
            PaperEmbedding(arxiv_id=p.arxiv_id, model=model, vector=v.astype("<f4").tobytes())
            for p, v in zip(todo, fresh, strict=True)
        ],
        ignore_conflicts=True,  # a concurrent build stored it first: same vector
        batch_size=1000,
    )
    log.info("embedded and stored %d paper(s) with %s", len(todo), model)
    return len(todo)

"""Inputs of the ranker, read from the database in bulk (the ORM side of digest/ranking.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from digest.models import Paper
from digest.ranking import Candidate, Profile, parse_interests
from subscriptions.models import PaperFeedback, Subscriber

# SQLite caps the number of parameters of one statement (32,766 since 3.32).
_IN_BATCH = 20_000


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


def profiles_for_subscribers(
    subscribers: Sequence[Subscriber], *, exclude: Mapping[int, set[str]] | None = None
) -> list[Profile]:
    """One Profile per subscriber, same order; all their feedback read in one query.

    ``exclude`` maps a subscriber id to the arXiv ids already sent to them.
    """
    feedback = _feedback_by_subscriber([s.pk for s in subscribers])
    exclude = exclude or {}
    return [_profile(s, feedback.get(s.pk, {}), exclude.get(s.pk, ())) for s in subscribers]


def reference_candidates(arxiv_ids: Iterable[str], *, today: date) -> list[Candidate]:
    """Catalogue papers for these ids (liked or disliked papers that are not today's)."""
    ids = list(dict.fromkeys(arxiv_ids))
    papers: list[Paper] = []
    for start in range(0, len(ids), _IN_BATCH):
        papers += Paper.objects.filter(arxiv_id__in=ids[start : start + _IN_BATCH])
    return [candidate_from_paper(p, today=today) for p in papers]


def _feedback_by_subscriber(ids: list[int]) -> dict[int, dict[str, list[str]]]:
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"like": [], "dislike": []})
    for start in range(0, len(ids), _IN_BATCH):
        rows = (
            PaperFeedback.objects.filter(subscriber_id__in=ids[start : start + _IN_BATCH])
            .order_by("created_at", "pk")
            .values_list("subscriber_id", "arxiv_id", "kind")
        )
        for subscriber_id, arxiv_id, kind in rows:
            out[subscriber_id][kind].append(arxiv_id)
    return out


def _profile(
    subscriber: Subscriber, feedback: Mapping[str, list[str]], sent: Iterable[str]
) -> Profile:
    return Profile(
        key=subscriber.pk,
        interests=parse_interests(subscriber.interests),
        categories=tuple(str(c) for c in subscriber.categories or ()),
        liked=tuple(feedback.get(PaperFeedback.Kind.LIKE, ())),
        disliked=tuple(feedback.get(PaperFeedback.Kind.DISLIKE, ())),
        authors=tuple(str(a) for a in subscriber.followed_authors or ()),
        exclude=frozenset(sent),
        k=subscriber.digest_size,
    )

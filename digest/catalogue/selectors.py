"""Read queries over the catalogue (the landing page and the digest builder use these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Max, QuerySet

from digest.models import Paper, PaperTrend
from digest.sources import sources_with_community_votes

_LAST = 1_000_000


def latest_trending_day() -> date | None:
    latest: date | None = PaperTrend.objects.aggregate(latest=Max("day"))["latest"]
    return latest


def paper_list_for_day(*, day: date) -> list[Paper]:
    """Papers that trended on ``day`` in any source, each once, best first."""
    return _ranked(PaperTrend.objects.filter(day=day))


def paper_list_for_days(*, first: date, last: date) -> list[Paper]:
    """Papers that trended on any day from ``first`` to ``last`` (inclusive), best first."""
    return _ranked(PaperTrend.objects.filter(day__range=(first, last)))


def paper_list_for_week(*, week_start: date) -> list[Paper]:
    """Papers that trended Monday..Sunday of ``week_start``'s week, each once, best first."""
    monday = week_start - timedelta(days=week_start.weekday())
    return paper_list_for_days(first=monday, last=monday + timedelta(days=6))


@dataclass(slots=True)
class _Standing:
    paper: Paper
    voted: bool = False
    votes: int = 0
    voted_rank: int = _LAST
    other_rank: int = _LAST

    def sort_key(self) -> tuple[bool, int, int, int, str]:
        # Papers a community voted on by the upvotes snapshot (then that source's own
        # order); papers only listed by vote-less sources (arXiv) after, in feed order.
        paper_id = self.paper.arxiv_id
        return (not self.voted, -self.votes, self.voted_rank, self.other_rank, paper_id)


def _ranked(trends: QuerySet[PaperTrend]) -> list[Paper]:
    voting_sources = sources_with_community_votes()
    standings: dict[int, _Standing] = {}
    for trend in trends.select_related("paper"):
        standing = standings.setdefault(trend.paper_id, _Standing(paper=trend.paper))
        rank = trend.rank if trend.rank is not None else _LAST
        if trend.source in voting_sources:
            standing.voted = True
            standing.votes = max(standing.votes, trend.upvotes)
            standing.voted_rank = min(standing.voted_rank, rank)
        else:
            standing.other_rank = min(standing.other_rank, rank)
    return [s.paper for s in sorted(standings.values(), key=_Standing.sort_key)]

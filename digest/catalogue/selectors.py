"""Read queries over the catalogue (the landing page and the digest builder use these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Max, QuerySet

from digest.models import Paper, PaperTrend

# Sources whose trend rows carry community upvotes; arXiv-only papers rank after these.
HF_SOURCES = frozenset({"hf_api", "hf_page"})
_LAST = 1_000_000


def latest_trending_day() -> date | None:
    return PaperTrend.objects.aggregate(latest=Max("day"))["latest"]


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
    on_hf: bool = False
    hf_upvotes: int = 0
    hf_rank: int = _LAST
    other_rank: int = _LAST

    def sort_key(self) -> tuple[bool, int, int, int, str]:
        # HF papers by the upvotes snapshot (then HF's own order); arXiv-only after, in
        # feed order.
        paper_id = self.paper.arxiv_id
        return (not self.on_hf, -self.hf_upvotes, self.hf_rank, self.other_rank, paper_id)


def _ranked(trends: QuerySet[PaperTrend]) -> list[Paper]:
    standings: dict[int, _Standing] = {}
    for trend in trends.select_related("paper"):
        standing = standings.setdefault(trend.paper_id, _Standing(paper=trend.paper))
        rank = trend.rank if trend.rank is not None else _LAST
        if trend.source in HF_SOURCES:
            standing.on_hf = True
            standing.hf_upvotes = max(standing.hf_upvotes, trend.upvotes)
            standing.hf_rank = min(standing.hf_rank, rank)
        else:
            standing.other_rank = min(standing.other_rank, rank)
    return [s.paper for s in sorted(standings.values(), key=_Standing.sort_key)]

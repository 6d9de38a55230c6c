"""One reader's ranking outside an edition build: the "why this paper?" page and
``manage.py rank_papers --subscriber``.

Both rank as planning.py does for that reader: the edition's papers, the reader's
profile with their feedback, the reference papers they liked or disliked, the same
default ranker (``Ranker`` with the configured weights), and for a preview the papers
already sent to them in other editions left out. One difference is unavoidable: the
tf-idf of an edition is fitted over every due reader's liked papers too, so a score can
differ from the email's in the last digits (the picks and reasons match; a test checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from digest.catalogue import selectors
from digest.editions import scheduling
from digest.editions.planning import NO_REPEAT_DAYS
from digest.models import Delivery, Paper

if TYPE_CHECKING:  # scikit-learn is imported only when a page or a preview asks
    from digest.ranking import Candidate, Pick, Profile
    from digest.ranking.explain import Explanation
    from subscriptions.models import Subscriber


@dataclass(frozen=True, slots=True)
class Preview:
    day: date
    frequency: str
    papers: dict[str, Paper]  # the candidates, by arXiv id
    picks: list[Pick]


def rank_one(
    candidates: Sequence[Candidate], profile: Profile, *, reference: Sequence[Candidate] = ()
) -> list[Pick]:
    """One profile's picks with the digests' default ranker (as planning.py builds it):
    the one place both preview modes of ``rank_papers`` rank through."""
    from digest.ranking import Ranker

    if not candidates:
        return []
    return Ranker(candidates, reference=reference).rank([profile])[0]


def delivery_explanation(*, delivery: Delivery, arxiv_id: str) -> Explanation | None:
    """The breakdown of one pick of ``delivery``, from the edition's papers and the
    reader's profile as it is now; None if the paper is no longer in the catalogue."""
    from digest.ranking.explain import explain

    run = delivery.run
    papers = list(Paper.objects.filter(arxiv_id__in=list(run.papers)))
    candidates, profile, reference = _inputs(
        delivery.subscriber, papers, today=run.edition_date, exclude=()
    )
    return explain(candidates, profile, arxiv_id, reference=reference)


def subscriber_preview(*, subscriber: Subscriber, day: date) -> Preview:
    """The picks ``subscriber``'s email of ``day`` would have, with their reasons."""
    frequency = subscriber.frequency
    papers = _papers_for(day=day, frequency=frequency)
    sent = _sent_elsewhere(subscriber=subscriber, day=day, frequency=frequency)
    candidates, profile, reference = _inputs(subscriber, papers, today=day, exclude=sent)
    picks = rank_one(candidates, profile, reference=reference)
    return Preview(day, frequency, {p.arxiv_id: p for p in papers}, picks)


def _inputs(
    subscriber: Subscriber, papers: Sequence[Paper], *, today: date, exclude: Iterable[str]
) -> tuple[list[Candidate], Profile, list[Candidate]]:
    from digest.ranking import inputs as ranking_inputs

    candidates = [ranking_inputs.candidate_from_paper(p, today=today) for p in papers]
    feedback = ranking_inputs.feedback_by_subscriber([subscriber.pk])
    (profile,) = ranking_inputs.profiles_for_subscribers(
        [subscriber], exclude={subscriber.pk: set(exclude)}, feedback=feedback
    )
    judged = [*profile.liked, *profile.disliked]
    reference = ranking_inputs.reference_candidates(judged, today=today)
    # The stored paper vectors, as the edition's ranker reads them (embedded once per paper).
    ranking_inputs.load_paper_vectors([*candidates, *reference])
    return candidates, profile, reference


def _papers_for(*, day: date, frequency: str) -> list[Paper]:
    # As planning._papers_for: a weekly edition covers the seven days before its date.
    if frequency == scheduling.WEEKLY:
        first = scheduling.weekly_window(day)
        return selectors.paper_list_for_days(first=first, last=day - timedelta(days=1))
    return list(selectors.paper_list_for_day(day=day))


def _sent_elsewhere(*, subscriber: Subscriber, day: date, frequency: str) -> set[str]:
    """Papers sent to the reader by other editions of the last NO_REPEAT_DAYS (planning's
    no-repeat rule), so the preview of an edition already built matches its email."""
    rows = (
        Delivery.objects.filter(
            subscriber=subscriber, run__edition_date__gte=day - timedelta(days=NO_REPEAT_DAYS)
        )
        .exclude(run__edition_date=day, run__frequency=frequency)
        .exclude(status__in=[Delivery.Status.SKIPPED, Delivery.Status.FAILED])
        .values_list("picks", flat=True)
    )
    return {pick["arxiv_id"] for picks in rows for pick in picks}

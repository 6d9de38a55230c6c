"""The catalogue: what the sources saw, merged into one Paper per arXiv id, and the read
queries over papers, their trends and the fetch runs.

Public API: the ``catalogue_*`` services (merge.py) and the selectors (selectors.py,
fetch_runs.py).
"""

from digest.catalogue.fetch_runs import sources_to_refetch
from digest.catalogue.merge import (
    catalogue_fetch,
    catalogue_ingest,
    catalogue_record_failure,
    merge_record,
)
from digest.catalogue.selectors import (
    latest_trending_day,
    paper_list_for_day,
    paper_list_for_days,
    paper_list_for_week,
)

__all__ = [
    "catalogue_fetch",
    "catalogue_ingest",
    "catalogue_record_failure",
    "latest_trending_day",
    "merge_record",
    "paper_list_for_day",
    "paper_list_for_days",
    "paper_list_for_week",
    "sources_to_refetch",
]

"""The catalogue: what the sources saw, merged into one Paper per arXiv id, and the read
queries over papers, their trends and the fetch runs.

Public API: the ``catalogue_*`` services (merge.py; lookup.py, the arXiv categories
step) and the selectors (selectors.py, fetch_runs.py, lookup.py).
"""

from digest.catalogue.fetch_runs import sources_to_refetch
from digest.catalogue.lookup import (
    LOOKUP_SOURCE,
    catalogue_apply_lookup,
    catalogue_lookup_categories,
    lookup_needed,
    sources_still_fetching,
)
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
    "LOOKUP_SOURCE",
    "catalogue_apply_lookup",
    "catalogue_fetch",
    "catalogue_ingest",
    "catalogue_lookup_categories",
    "catalogue_record_failure",
    "latest_trending_day",
    "lookup_needed",
    "merge_record",
    "paper_list_for_day",
    "paper_list_for_days",
    "paper_list_for_week",
    "sources_still_fetching",
    "sources_to_refetch",
]

"""Personal ranking of the day's papers for every reader at once (pure and vectorised).

Public API: the value types (Candidate, Profile, Pick), the Ranker and its columns, and
``inputs`` (inputs.py), which builds them from the database in bulk.
"""

from digest.ranking.ranker import (
    DEFAULT_WEIGHTS,
    Candidate,
    Pick,
    Profile,
    RankedColumns,
    Ranker,
    rank_columns,
    rank_for_all,
    resolve_weights,
)
from digest.ranking.text import parse_interests

__all__ = [
    "DEFAULT_WEIGHTS",
    "Candidate",
    "Pick",
    "Profile",
    "RankedColumns",
    "Ranker",
    "parse_interests",
    "rank_columns",
    "rank_for_all",
    "resolve_weights",
]

"""Personal ranking of the day's papers for every reader at once (pure and vectorised).

Public API: the value types (Candidate, Profile, Pick, RankedColumns), the Ranker, the
weights (DEFAULT_WEIGHTS, from the signal table in signals.py) and ``inputs``
(inputs.py), which builds the value types from the database in bulk.

Modules: types (values), text (normalisation), corpus (the day's papers), profiles (the
readers of a call as arrays), signals (the signal table), selection (MMR), reasons
(reason codes and wording), semantic (the optional embedding signal), ranker (the
Ranker, generic over the table), conf (settings helper).
"""

from digest.ranking.ranker import Ranker, rank_columns, rank_for_all
from digest.ranking.signals import DEFAULT_WEIGHTS, resolve_weights
from digest.ranking.text import parse_interests
from digest.ranking.types import Candidate, Pick, Profile, RankedColumns

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

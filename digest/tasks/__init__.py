"""Celery tasks: thin wrappers that take ids and call services.

Split by concern; every task is named explicitly ("digest.tasks.<name>") so the beat
schedule in config/settings/base.py and queued messages don't depend on module layout.
"""

from digest.tasks.fetch import *  # noqa: F403
from digest.tasks.send import *  # noqa: F403

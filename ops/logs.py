"""Log records that carry the run and delivery they are about, as text or one JSON object
per line (LOG_FORMAT=json, config/settings/base.py LOGGING).

Where the ids come from, first found wins:
1. the record itself: ``logger.info("...", extra={"run_id": run.pk, "delivery_id": d.pk})``;
2. the context: ``with log_context(run_id=run.pk): ...``, and inside a Celery task its
   name, id and the id arguments it was called with (``delivery_ids``, ``run_id``,
   ``tracking_event_id``...), bound by the task_prerun signal; a sending chunk's run
   is looked up from its first delivery;
3. the message: "delivery %s ..." and "run %s ..." name their id first, as the sender's
   "delivery %s failed: %s" does.

Importing this module must stay cheap and must not touch models: logging is configured
before the apps are ready.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

ID_FIELDS = ("run_id", "delivery_id", "delivery_ids", "tracking_event_id", "task", "task_id")
# Task arguments worth carrying on every record the task logs.
_TASK_ID_ARGS = frozenset({"run_id", "delivery_id", "delivery_ids", "tracking_event_id"})
_MESSAGE_PREFIXES = {"delivery %s": "delivery_id", "run %s": "run_id"}

_context: ContextVar[dict[str, Any] | None] = ContextVar("ops_log_context", default=None)
_task_tokens: dict[str | None, Token[dict[str, Any] | None]] = {}


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Every record logged inside carries ``ids`` (unless it names its own)."""
    token = _context.set({**(_context.get() or {}), **ids})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the known ids on each record, and ``record.context``, " key=value" text."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = _from_message(record)
        found.update(_context.get() or {})
        for name in ID_FIELDS:
            if name in found and getattr(record, name, None) is None:
                setattr(record, name, found[name])
        pairs = [f"{name}={value}" for name in ID_FIELDS if (value := getattr(record, name, None))]
        record.context = (" [" + " ".join(pairs) + "]") if pairs else ""
        return True


def _from_message(record: logging.LogRecord) -> dict[str, Any]:
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple) or not record.args:
        return {}
    for prefix, name in _MESSAGE_PREFIXES.items():
        if record.msg.startswith(prefix):
            return {name: record.args[0]}
    return {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_bind_task, dispatch_uid="ops.logs.bind_task")
    task_postrun.connect(_unbind_task, dispatch_uid="ops.logs.unbind_task")


def _bind_task(
    task_id: str | None = None,
    task: Any = None,
    args: Any = None,
    kwargs: Any = None,
    **_: Any,
) -> None:
    ids: dict[str, Any] = {"task": getattr(task, "name", None), "task_id": task_id}
    ids.update(_task_id_args(task, args or (), kwargs or {}))
    if "run_id" not in ids and ids.get("delivery_ids"):
        ids["run_id"] = _run_of(ids["delivery_ids"])
    # Merged into, and later restored to, what was bound outside: an eager task runs
    # inside its caller's context.
    _task_tokens[task_id] = _context.set({**(_context.get() or {}), **ids})


def _unbind_task(task_id: str | None = None, **_: Any) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _context.reset(token)
        except ValueError:  # set in another context (thread): nothing of ours to restore
            _context.set(None)


def _run_of(delivery_ids: Any) -> int | None:
    """The run of a sending chunk (a chunk never spans runs): one indexed lookup per task."""
    try:
        from digest.models import Delivery

        first = next(iter(delivery_ids))
        return Delivery.objects.filter(pk=first).values_list("run_id", flat=True).first()
    except Exception:  # logging context must never fail a task
        return None


def _task_id_args(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs)
    except (TypeError, ValueError, AttributeError):
        return {}
    return {name: value for name, value in bound.arguments.items() if name in _TASK_ID_ARGS}

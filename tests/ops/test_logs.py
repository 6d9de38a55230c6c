"""LOG_FORMAT=json: one JSON object per record, carrying the run and delivery ids."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from digest import editions, sending
from digest.models import Delivery
from ops.logs import ContextFilter, JsonFormatter, log_context

ROOT = Path(__file__).resolve().parents[2]


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the server said no")


def _capture(logger: logging.Logger):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    def records() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield records
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def json_log():
    yield from _capture(logging.getLogger())


@pytest.fixture
def sender_json_log():
    # A worker started in the test configures logging again (settings.LOGGING), which
    # replaces the root logger's handlers: listen on the sender's logger itself.
    yield from _capture(logging.getLogger("digest.sending.sender"))


def test_ids_come_from_extra_then_the_context_then_the_message(json_log):
    log = logging.getLogger("test.ops")
    log.info("plain")
    log.info("with extra", extra={"run_id": 3, "delivery_id": 4})
    with log_context(run_id=5):
        log.info("in context")
        log.warning("delivery %s failed: %s", 6, "boom")
        log.info("extra wins", extra={"run_id": 7})
    log.info("run %s finished", 8)

    plain, extra, context, message, wins, run = json_log()
    assert set(plain) == {"time", "level", "logger", "message"}
    assert (plain["level"], plain["logger"], plain["message"]) == ("INFO", "test.ops", "plain")
    assert (extra["run_id"], extra["delivery_id"]) == (3, 4)
    assert context["run_id"] == 5 and "delivery_id" not in context
    assert (message["run_id"], message["delivery_id"]) == (5, 6)
    assert message["message"] == "delivery 6 failed: boom"
    assert wins["run_id"] == 7
    assert run["run_id"] == 8


def test_a_traceback_is_one_field_of_the_same_line(json_log):
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("test.ops").exception("it broke")
    [record] = json_log()
    assert record["message"] == "it broke"
    assert "ValueError: bad" in record["exception"]


def test_a_failed_send_logs_its_delivery_run_and_task(
    json_log, settings, subscriber_factory, paper_trend_factory, django_capture_on_commit_callbacks
):
    settings.DIGEST_REQUIRE_APPROVAL = True
    settings.EMAIL_BACKEND = "tests.ops.test_logs.RefusingBackend"
    paper_trend_factory()
    subscriber_factory()
    run = editions.digest_run_build(day=paper_trend_factory().day)
    delivery = Delivery.objects.get(run=run)

    with django_capture_on_commit_callbacks(execute=True):
        sending.digest_run_approve(run=run)  # queues the chunk task (eager in tests)

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    failed = [r for r in json_log() if r["logger"] == "digest.sending.sender"]
    assert failed, json_log()
    record = failed[0]
    # The run from the chunk's deliveries, the delivery from the message, the rest from
    # the task: nothing bound by the caller.
    assert (record["run_id"], record["delivery_id"]) == (run.pk, delivery.pk)
    assert record["task"] == "digest.tasks.send_deliveries"
    assert record["delivery_ids"] == [delivery.pk]
    assert "the server said no" in record["message"]


def _django(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django, logging; django.setup(); {code}"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
    )


def test_log_format_json_makes_every_record_a_json_line():
    code = "logging.getLogger('digest.sending.sender').warning('delivery %s failed: %s', 7, 'x')"
    result = _django({"LOG_FORMAT": "json"}, code)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["delivery_id"] == 7 and record["level"] == "WARNING"


def test_the_text_format_shows_the_ids_too():
    result = _django({}, "logging.getLogger('x').info('sent', extra={'run_id': 9})")
    assert result.stderr.strip().endswith("INFO x: sent [run_id=9]")


def test_an_unknown_log_format_stops_start_up():
    result = _django({"LOG_FORMAT": "xml"}, "pass")
    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is not 'text' or 'json'" in result.stderr


@pytest.mark.worker
def test_a_real_workers_failed_send_logs_its_delivery_run_and_task(
    sender_json_log, settings, celery_worker, subscriber_factory, paper_trend_factory
):
    settings.EMAIL_BACKEND = "tests.ops.test_logs.RefusingBackend"
    trend = paper_trend_factory()
    subscriber_factory()
    run = editions.digest_run_build(day=trend.day)  # no approval: ready to send
    delivery = Delivery.objects.get(run=run)
    from digest.tasks import send_deliveries

    result = send_deliveries.delay([delivery.pk])
    result_id = result.id
    deadline = time.monotonic() + 60
    while Delivery.objects.get(pk=delivery.pk).status != "failed":
        assert time.monotonic() < deadline, "the worker did not fail the send in time"
        time.sleep(0.2)

    failed = sender_json_log()
    assert failed
    assert (failed[0]["run_id"], failed[0]["delivery_id"]) == (run.pk, delivery.pk)
    assert failed[0]["task_id"] == result_id

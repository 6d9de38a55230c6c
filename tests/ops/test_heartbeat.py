"""Beat queues ops.tasks.heartbeat every minute; beat's tick and a worker's run are recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from ops import signals
from ops.models import Heartbeat
from ops.tasks import heartbeat


def test_the_beat_schedule_queues_the_heartbeat_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["ops-heartbeat"]
    assert entry == {"task": "ops.tasks.heartbeat", "schedule": 60.0}


def test_a_worker_running_the_task_records_its_heartbeat(db):
    Heartbeat.objects.create(name="worker", at=timezone.now() - timedelta(hours=1))
    heartbeat.delay()
    assert timezone.now() - Heartbeat.objects.get(name="worker").at < timedelta(seconds=5)
    assert not Heartbeat.objects.filter(name="beat").exists()


def test_beat_queueing_the_heartbeat_records_beats_tick_and_nothing_else_does(db):
    signals.on_publish(sender="digest.tasks.send_due_digests")
    assert not Heartbeat.objects.exists()
    signals.on_publish(sender="ops.tasks.heartbeat")
    assert list(Heartbeat.objects.values_list("name", flat=True)) == ["beat"]


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_publishing_the_task_to_the_broker_fires_the_beat_signal(db):
    from config.celery_app import app

    app.send_task("ops.tasks.heartbeat")  # what beat does: publish, not run
    try:
        assert Heartbeat.objects.filter(name="beat").exists()
    finally:
        app.control.purge()


def test_ops_check_beat_passes_on_a_recent_tick_and_fails_on_an_old_or_missing_one(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="beat: never seen"):
        call_command("ops_check", "beat")
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(minutes=10))
    with pytest.raises(CommandError, match=r"beat: no heartbeat for 6\d\d"):
        call_command("ops_check", "beat")
    Heartbeat.objects.filter(name="beat").update(at=timezone.now())
    call_command("ops_check", "beat")


def test_ops_check_ready_runs_the_readiness_checks(db, capsys):
    from django.core.management import call_command

    call_command("ops_check", "ready")
    assert '"failed": []' in capsys.readouterr().out

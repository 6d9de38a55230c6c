"""config/broker.py: kombu's Redis transport with one Redis client per channel."""

from __future__ import annotations

import uuid

import redis
from django.conf import settings
from kombu import Queue

from config.broker import Channel
from config.celery_app import app
from config.settings.base import broker_transport


def test_redis_brokers_use_it_and_the_others_keep_kombus():
    assert broker_transport("redis://127.0.0.1:6379/1") == "config.broker:Transport"
    assert broker_transport("rediss://cache.example:6380/0") is None  # kombu's TLS defaults
    assert broker_transport("filesystem://") is None
    assert broker_transport(settings.CELERY_BROKER_URL) == settings.CELERY_BROKER_TRANSPORT


def test_messages_published_on_the_real_broker_share_one_client_and_arrive():
    queue = Queue(f"test-broker-{uuid.uuid4().hex}")
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        with connection.Producer() as producer:
            for n in range(3):
                producer.publish({"n": n}, routing_key=queue.name, declare=[queue])
        bodies = []
        with connection.SimpleQueue(queue) as received:
            for _ in range(3):
                message = received.get(timeout=5)
                bodies.append(message.payload)
                message.ack()
    assert bodies == [{"n": 0}, {"n": 1}, {"n": 2}]
    # Nothing else left on the broker for that queue.
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(queue.name) == 0


def test_a_publish_after_redis_dropped_the_connection_still_arrives():
    from subscriptions.tasks import send_account_email

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    db = broker.connection_pool.connection_kwargs.get("db", 0)
    app.conf.task_always_eager = False
    try:
        broker.delete("celery")
        send_account_email.apply_async(kwargs={"kind": "confirm", "subscriber_id": 0})
        # Redis drops every connection of the broker's database but this one (a restart,
        # an idle timeout): the shared client's next command must reconnect.
        me = broker.client_id()
        dropped = [
            c["id"] for c in broker.client_list() if int(c["db"]) == db and int(c["id"]) != me
        ]
        assert dropped
        for client_id in dropped:
            broker.client_kill_filter(_id=client_id)
        send_account_email.apply_async(kwargs={"kind": "confirm", "subscriber_id": 0})
        assert broker.llen("celery") == 2
    finally:
        broker.delete("celery")
        app.conf.task_always_eager = True

from __future__ import annotations

from django.test import Client

from digest import editions, sending
from digest.models import Delivery
from subscriptions import tokens


def _sent(subscriber_factory, day):
    subscriber = subscriber_factory()
    sending.digest_run_send(run=editions.digest_run_build(day=day), inline=True)
    return subscriber, Delivery.objects.get(subscriber=subscriber)


def test_the_web_version_shows_the_same_digest(client: Client, subscriber_factory, papers, day):
    subscriber, delivery = _sent(subscriber_factory, day)
    response = client.get(
        tokens.web_version_url(subscriber, delivery.pk).removeprefix("http://testserver")
    )
    assert response.status_code == 200
    assert papers[0].title in response.content.decode()


def test_the_web_version_refuses_a_tampered_link(client: Client, subscriber_factory, papers, day):
    subscriber, delivery = _sent(subscriber_factory, day)
    url = tokens.web_version_url(subscriber, delivery.pk).removeprefix("http://testserver")
    assert client.get(url[:-3] + "xx/").status_code == 400


def test_the_private_feed_lists_the_picks_that_were_sent(
    client: Client, subscriber_factory, papers, day
):
    subscriber, delivery = _sent(subscriber_factory, day)
    response = client.get(tokens.feed_url(subscriber).removeprefix("http://testserver"))
    body = response.content.decode()
    assert response["Content-Type"].startswith("application/atom+xml")
    assert body.count("<entry>") == len(delivery.picks)
    first = delivery.picks[0]["arxiv_id"]
    assert f"urn:paper-digest:{delivery.pk}:{first}" in body


def test_the_feed_is_revoked_with_the_token_version(
    client: Client, subscriber_factory, papers, day
):
    subscriber, _ = _sent(subscriber_factory, day)
    url = tokens.feed_url(subscriber).removeprefix("http://testserver")
    subscriber.token_version += 1
    subscriber.save()
    assert client.get(url).status_code == 400

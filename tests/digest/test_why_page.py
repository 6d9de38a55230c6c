"""The "why this paper?" page: signed by the email's feedback token, tamper-proof, and
showing each signal's part of the score."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from digest import editions, sending
from digest.models import Delivery
from digest.ranking.signals import SIGNALS
from subscriptions import tokens
from subscriptions.models import PaperFeedback
from subscriptions.tokens import Purpose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_semantic_model(settings):
    # These pages are checked with the semantic signal off (an installation without its
    # model), so one row shows as "not used"; tests/digest/ranking/test_semantic.py
    # covers the default model.
    settings.DIGEST_SEMANTIC = False


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture
def sent(subscriber_factory, papers, day):
    papers[1].categories = ["cs.IR", "cs.CL"]
    papers[1].save()
    subscriber = subscriber_factory(categories=["cs.CL"])
    PaperFeedback.objects.create(subscriber=subscriber, arxiv_id=papers[4].arxiv_id, kind="like")
    sending.digest_run_send(run=editions.digest_run_build(day=day), inline=True)
    return subscriber, Delivery.objects.get(subscriber=subscriber)


def test_every_pick_of_the_email_links_its_why_page(sent):
    _, delivery = sent
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    for pick in delivery.picks:
        # The why link carries the email's own feedback token (the one of its "more like
        # this" link), not a signature of its own. Read from the email rather than signed
        # again here: a token made a second later would differ in its timestamp.
        like = re.search(rf"/feedback/([^/]+)/like/{re.escape(pick['arxiv_id'])}/", message.body)
        assert like is not None
        token = like.group(1)
        assert tokens.read_token(token, Purpose.FEEDBACK).extra == str(delivery.pk)
        url = f"http://testserver/digest/why/{token}/{pick['arxiv_id']}/"
        assert url in message.body
        assert url.replace("&", "&amp;") in html
    assert message.body.count("Why this paper?\nhttp") == len(delivery.picks)


def test_the_page_shows_the_breakdown_of_the_pick(client: Client, sent, papers):
    subscriber, delivery = sent
    pick = next(p for p in delivery.picks if p["arxiv_id"] == papers[1].arxiv_id)

    response = client.get(_path(tokens.why_url(subscriber, delivery.pk, pick["arxiv_id"])))

    assert response.status_code == 200
    body = response.content.decode()
    assert papers[1].title in body
    assert pick["reason"].replace("'", "&#x27;") in body
    # Each signal of the table is either a row or listed as not used (semantic: no model).
    off_line = re.search(r"Not used in this installation: ([^.]*)\.", body)
    off = off_line.group(1).split(", ") if off_line else []
    assert "semantic" in off
    for signal in SIGNALS:
        assert (f'<th scope="row">{signal.name}</th>' in body) != (signal.name in off)
    assert "“retrieval-augmented generation”" in body  # the subscriber's phrase
    assert "cs.IR, cs.CL (you chose cs.CL)" in body
    assert papers[4].title in body  # the liked paper it resembles
    assert f"{papers[1].upvotes} upvotes" in body
    why = response.context["why"]
    assert f"{why.total:.3f}" in body
    assert round(why.total, 4) == pytest.approx(pick["score"], abs=1e-4)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # tampered
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_token_is_a_plain_400(client: Client, sent, mangle):
    subscriber, delivery = sent
    token = tokens.delivery_feedback_token(subscriber, delivery.pk)
    arxiv_id = delivery.picks[0]["arxiv_id"]

    response = client.get(reverse("digest:why_paper", args=[mangle(token), arxiv_id]))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_a_token_of_another_purpose_is_a_400(client: Client, sent):
    subscriber, delivery = sent
    token = tokens.make_token(subscriber, Purpose.WEB_VERSION, str(delivery.pk))

    response = client.get(reverse("digest:why_paper", args=[token, delivery.picks[0]["arxiv_id"]]))

    assert response.status_code == 400


def test_an_expired_or_revoked_token_is_a_400(client: Client, sent):
    subscriber, delivery = sent
    url = _path(tokens.why_url(subscriber, delivery.pk, delivery.picks[0]["arxiv_id"]))
    with time_machine.travel(timezone.now() + timedelta(days=181)):
        assert client.get(url).status_code == 400
    subscriber.token_version += 1
    subscriber.save()
    assert client.get(url).status_code == 400


def test_an_older_per_paper_feedback_token_is_a_400(client: Client, sent):
    subscriber, delivery = sent
    arxiv_id = delivery.picks[0]["arxiv_id"]
    token = tokens.make_token(subscriber, Purpose.FEEDBACK, extra=f"like.{arxiv_id}")

    assert client.get(reverse("digest:why_paper", args=[token, arxiv_id])).status_code == 400


def test_a_paper_that_was_not_in_that_email_is_a_404(client: Client, sent, paper_factory):
    subscriber, delivery = sent
    other = paper_factory()

    response = client.get(_path(tokens.why_url(subscriber, delivery.pk, other.arxiv_id)))

    assert response.status_code == 404


def test_another_readers_delivery_is_refused(client: Client, sent, subscriber_factory):
    _, delivery = sent
    intruder = subscriber_factory()
    url = _path(tokens.why_url(intruder, delivery.pk, delivery.picks[0]["arxiv_id"]))

    assert client.get(url).status_code == 400


def test_a_bad_arxiv_id_in_the_path_is_a_404_not_a_500(client: Client, sent):
    subscriber, delivery = sent
    token = tokens.delivery_feedback_token(subscriber, delivery.pk)

    for junk in ["../../etc/passwd", "2607.1 OR 1=1", "a/b/c"]:
        response = client.get(f"/digest/why/{token}/{junk}/")
        assert response.status_code == 404, junk
    # A control character never reaches the view: the request hygiene middleware answers.
    assert client.get(f"/digest/why/{token}/%00/").status_code == 400


def test_the_why_url_is_the_feedback_token_not_a_new_signature(sent):
    subscriber, delivery = sent
    with time_machine.travel(timezone.now(), tick=False):  # signatures carry a timestamp
        url = tokens.why_url(subscriber, delivery.pk, "2607.00001")
        token = tokens.delivery_feedback_token(subscriber, delivery.pk)
    assert re.search(rf"/digest/why/{re.escape(token)}/2607\.00001/$", url)


def test_the_readers_own_words_are_escaped(client: Client, subscriber_factory, papers, day):
    papers[0].title = "Diffusion <b>models</b> for long video generation"
    papers[0].save()
    subscriber = subscriber_factory(
        interests='<script>alert("x")</script>, diffusion <b>models</b>'
    )
    sending.digest_run_send(run=editions.digest_run_build(day=day), inline=True)
    delivery = Delivery.objects.get(subscriber=subscriber)
    pick = next(p for p in delivery.picks if p["arxiv_id"] == papers[0].arxiv_id)

    body = client.get(_path(tokens.why_url(subscriber, delivery.pk, pick["arxiv_id"]))).content
    body = body.decode()

    assert "<script>" not in body and "<b>models</b>" not in body
    assert "diffusion &lt;b&gt;models&lt;/b&gt;" in body

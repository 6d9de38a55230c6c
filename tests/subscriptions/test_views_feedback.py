"""'More like this' / 'less like this' links from a digest."""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse

from digest.models import Delivery, DigestRun
from subscriptions import services, tokens
from subscriptions.models import PaperFeedback
from subscriptions.tokens import Purpose


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_opening_a_feedback_link_changes_nothing(subscriber_factory, paper_factory, client):
    sub = subscriber_factory()
    paper_factory(arxiv_id="2501.00042", title="Scaling laws for cats")
    delivery = _delivery(sub, "2501.00042")
    for url in (
        tokens.feedback_url(sub, "2501.00042", "like"),
        tokens.delivery_feedback_url(sub, delivery.pk, "2501.00042", "dislike"),
    ):
        response = client.get(_path(url))
        html = response.content.decode()
        assert response.status_code == 200 and "Scaling laws for cats" in html
        assert "data-autosubmit" in html and '<form method="post"' in html
    assert not PaperFeedback.objects.exists()


def test_it_records_a_like_and_thanks_the_reader(subscriber_factory, paper_factory, client):
    sub = subscriber_factory()
    paper_factory(arxiv_id="2501.00042", title="Scaling laws for cats")
    response = client.post(_path(tokens.feedback_url(sub, "2501.00042", "like")))
    html = response.content.decode()
    assert response.status_code == 200
    assert "more papers like" in html and "Scaling laws for cats" in html
    assert "/manage/" in html  # a link to preferences
    feedback = PaperFeedback.objects.get(subscriber=sub)
    assert (feedback.arxiv_id, feedback.kind, feedback.origin) == ("2501.00042", "like", "email")


def test_it_is_idempotent_and_a_later_opposite_click_wins(subscriber_factory, client):
    sub = subscriber_factory()
    like = _path(tokens.feedback_url(sub, "2501.00042", "like"))
    assert client.post(like).status_code == 200
    assert client.post(like).status_code == 200
    assert PaperFeedback.objects.filter(subscriber=sub).count() == 1
    client.post(_path(tokens.feedback_url(sub, "2501.00042", "dislike")))
    assert list(PaperFeedback.objects.filter(subscriber=sub).values_list("kind", flat=True)) == [
        "dislike"
    ]


def test_it_works_for_old_style_arxiv_ids(subscriber_factory, client):
    sub = subscriber_factory()
    assert client.post(_path(tokens.feedback_url(sub, "hep-th/9901001", "like"))).status_code == 200
    assert PaperFeedback.objects.get(subscriber=sub).arxiv_id == "hep-th/9901001"


def test_it_rejects_a_signed_link_with_an_unknown_kind(subscriber_factory, client):
    sub = subscriber_factory()
    token = tokens.make_token(sub, Purpose.FEEDBACK, extra="love.2501.00042")
    response = client.get(reverse("subscriptions:feedback", args=[token]))
    assert response.status_code == 400
    assert not PaperFeedback.objects.exists()


def test_it_rejects_a_revoked_feedback_link(subscriber_factory, client):
    sub = subscriber_factory()
    url = _path(tokens.feedback_url(sub, "2501.00042", "like"))
    services.subscriber_revoke_links(subscriber=sub)
    assert client.get(url).status_code == 400
    assert not PaperFeedback.objects.exists()


# One token per email: it signs the delivery; the kind and the paper are in the path.


def _delivery(subscriber, *arxiv_ids: str) -> Delivery:
    day = date(2026, 11, 17) + timedelta(days=DigestRun.objects.count())
    run = DigestRun.objects.create(edition_date=day)
    picks = [{"arxiv_id": aid, "score": 0.5, "reason": "trending"} for aid in arxiv_ids]
    return Delivery.objects.create(run=run, subscriber=subscriber, picks=picks)


def test_a_delivery_link_records_feedback_on_a_picked_paper(
    subscriber_factory, paper_factory, client
):
    sub = subscriber_factory()
    paper_factory(arxiv_id="2501.00042", title="Scaling laws for cats")
    delivery = _delivery(sub, "2501.00007", "2501.00042")
    url = tokens.delivery_feedback_url(sub, delivery.pk, "2501.00042", "dislike")
    assert "/dislike/2501.00042/" in url
    response = client.post(_path(url))
    assert response.status_code == 200
    assert "fewer papers like" in response.content.decode()
    assert "Scaling laws for cats" in response.content.decode()
    feedback = PaperFeedback.objects.get(subscriber=sub)
    assert (feedback.arxiv_id, feedback.kind, feedback.origin) == ("2501.00042", "dislike", "email")


def test_a_delivery_link_is_idempotent_and_a_later_opposite_click_wins(subscriber_factory, client):
    sub = subscriber_factory()
    delivery = _delivery(sub, "2501.00042")
    like = _path(tokens.delivery_feedback_url(sub, delivery.pk, "2501.00042", "like"))
    assert client.post(like).status_code == 200
    assert client.post(like).status_code == 200
    assert PaperFeedback.objects.filter(subscriber=sub).count() == 1
    # The same token with the other kind in the path.
    assert client.post(like.replace("/like/", "/dislike/")).status_code == 200
    assert list(PaperFeedback.objects.filter(subscriber=sub).values_list("kind", flat=True)) == [
        "dislike"
    ]


def test_a_delivery_link_works_for_old_style_arxiv_ids(subscriber_factory, client):
    sub = subscriber_factory()
    delivery = _delivery(sub, "hep-th/9901001")
    url = tokens.delivery_feedback_url(sub, delivery.pk, "hep-th/9901001", "like")
    assert client.post(_path(url)).status_code == 200
    assert PaperFeedback.objects.get(subscriber=sub).arxiv_id == "hep-th/9901001"


def test_a_delivery_link_refuses_a_paper_that_was_not_in_that_delivery(subscriber_factory, client):
    sub = subscriber_factory()
    delivery = _delivery(sub, "2501.00042")
    url = _path(tokens.delivery_feedback_url(sub, delivery.pk, "2501.00099", "like"))
    response = client.post(url)
    assert response.status_code == 400
    assert "subscriptions/bad_link.html" in [t.name for t in response.templates]
    assert not PaperFeedback.objects.exists()


def test_a_delivery_link_refuses_another_subscribers_delivery(subscriber_factory, client):
    sub, other = subscriber_factory(), subscriber_factory()
    theirs = _delivery(other, "2501.00042")
    url = _path(tokens.delivery_feedback_url(sub, theirs.pk, "2501.00042", "like"))
    assert client.post(url).status_code == 400
    assert not PaperFeedback.objects.exists()


def test_a_tampered_delivery_link_is_refused(subscriber_factory, client):
    sub = subscriber_factory()
    delivery = _delivery(sub, "2501.00042")
    other = _delivery(sub, "2501.00042")
    url = _path(tokens.delivery_feedback_url(sub, delivery.pk, "2501.00042", "like"))
    token = url.split("/")[2]
    value, timestamp, signature = token.rsplit(":", 2)
    pk, version, delivery_id = value.split(".")
    forged = [
        f"{pk}.{version}.{other.pk}:{timestamp}:{signature}",  # another delivery
        f"{pk}.{version}.{delivery_id}:{timestamp}:{signature[:-2]}xx",  # the signature
    ]
    for bad in forged:
        response = client.post(f"/feedback/{bad}/like/2501.00042/")
        assert response.status_code == 400
        assert "subscriptions/bad_link.html" in [t.name for t in response.templates]
    assert not PaperFeedback.objects.exists()


def test_tokens_of_the_two_feedback_forms_do_not_stand_in_for_each_other(
    subscriber_factory, client
):
    sub = subscriber_factory()
    delivery = _delivery(sub, "2501.00042")
    old_token = _path(tokens.feedback_url(sub, "2501.00042", "like")).split("/")[2]
    new_token = tokens.delivery_feedback_token(sub, delivery.pk)
    assert client.get(f"/feedback/{old_token}/like/2501.00042/").status_code == 400
    assert client.get(f"/feedback/{new_token}/").status_code == 400
    assert not PaperFeedback.objects.exists()


def test_a_revoked_delivery_link_is_refused(subscriber_factory, client):
    sub = subscriber_factory()
    delivery = _delivery(sub, "2501.00042")
    url = _path(tokens.delivery_feedback_url(sub, delivery.pk, "2501.00042", "like"))
    services.subscriber_revoke_links(subscriber=sub)
    assert client.get(url).status_code == 400
    assert not PaperFeedback.objects.exists()

"""'More like this' / 'less like this' links from a digest."""

from __future__ import annotations

from django.urls import reverse

from subscriptions import services, tokens
from subscriptions.models import PaperFeedback
from subscriptions.tokens import Purpose


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_it_records_a_like_and_thanks_the_reader(subscriber_factory, paper_factory, client):
    sub = subscriber_factory()
    paper_factory(arxiv_id="2501.00042", title="Scaling laws for cats")
    response = client.get(_path(tokens.feedback_url(sub, "2501.00042", "like")))
    html = response.content.decode()
    assert response.status_code == 200
    assert "more papers like" in html and "Scaling laws for cats" in html
    assert "/manage/" in html  # a link to preferences
    feedback = PaperFeedback.objects.get(subscriber=sub)
    assert (feedback.arxiv_id, feedback.kind, feedback.origin) == ("2501.00042", "like", "email")


def test_it_is_idempotent_and_a_later_opposite_click_wins(subscriber_factory, client):
    sub = subscriber_factory()
    like = _path(tokens.feedback_url(sub, "2501.00042", "like"))
    assert client.get(like).status_code == 200
    assert client.get(like).status_code == 200
    assert PaperFeedback.objects.filter(subscriber=sub).count() == 1
    client.get(_path(tokens.feedback_url(sub, "2501.00042", "dislike")))
    assert list(PaperFeedback.objects.filter(subscriber=sub).values_list("kind", flat=True)) == [
        "dislike"
    ]


def test_it_works_for_old_style_arxiv_ids(subscriber_factory, client):
    sub = subscriber_factory()
    assert client.get(_path(tokens.feedback_url(sub, "hep-th/9901001", "like"))).status_code == 200
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

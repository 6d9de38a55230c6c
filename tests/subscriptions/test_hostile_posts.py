"""Posts a browser never sends, to the public forms: answered, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/manage/"])
def test_an_empty_post_over_the_ip_limit_is_not_a_500(url, settings):
    settings.SUBSCRIPTIONS_SIGNUP_RATE_PER_IP = "1/h"
    settings.SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP = "1/h"
    client = Client(raise_request_exception=False)
    client.post(url, {"email": "ada@example.com", "website": ""})  # uses up the limit
    response = client.post(url, {})  # "request.POST or None": an unbound form
    # The signup answers with the small rate-limit page (429); the manage-link form with
    # its empty form again (400). Either is a plain answer, never a 500.
    assert response.status_code == {"/": 429, "/manage/": 400}[url]


@pytest.mark.parametrize("url", ["/", "/manage/"])
def test_an_empty_post_gets_the_form_again(url):
    response = Client(raise_request_exception=False).post(url, {})
    assert response.status_code == 400
    assert b"<form" in response.content

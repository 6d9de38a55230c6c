from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from subscriptions import services
from subscriptions.models import Subscriber


@pytest.fixture
def admin_client_(db, client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


@pytest.mark.parametrize("model", ["subscriber", "consentrecord", "paperfeedback"])
def test_it_registers_every_subscriptions_model(admin_client_, model):
    sub = services.subscriber_signup(
        email="seen@example.com",
        ip="192.0.2.1",
        user_agent="UA",
        interests="x",
        liked_papers=["2501.00001"],
    )
    assert admin_client_.get(reverse(f"admin:subscriptions_{model}_changelist")).status_code == 200
    obj_id = {
        "subscriber": sub.pk,
        "consentrecord": sub.consent.pk,
        "paperfeedback": sub.feedback.get().pk,
    }[model]
    change = reverse(f"admin:subscriptions_{model}_change", args=[obj_id])
    assert admin_client_.get(change).status_code == 200


def test_it_unsubscribes_from_an_admin_action(subscriber_factory, admin_client_):
    sub = subscriber_factory()
    admin_client_.post(
        reverse("admin:subscriptions_subscriber_changelist"),
        {"action": "unsubscribe_selected", "_selected_action": [sub.pk]},
    )
    sub.refresh_from_db()
    assert sub.status == Subscriber.Status.UNSUBSCRIBED
    assert sub.consent.unsubscribe_method == "admin"

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from digest import editions, sending
from digest.models import Delivery, DigestRun


@pytest.fixture
def review_run(subscriber_factory, papers, day, settings):
    settings.DIGEST_REQUIRE_APPROVAL = True
    subscriber_factory(email="ada@example.com")
    subscriber_factory(email="alan@example.com")
    return editions.digest_run_build(day=day)


def test_the_run_list_shows_progress_and_counts(admin_client, review_run):
    response = admin_client.get(reverse("admin:digest_digestrun_changelist"))
    assert response.status_code == 200
    assert b"<progress" in response.content
    assert b"Awaiting review" in response.content


def test_the_admin_previews_any_subscribers_email_as_html_and_text(admin_client, review_run):
    url = reverse("admin:digest_digestrun_preview", args=[review_run.pk])
    response = admin_client.get(url, {"email": "alan@"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "To alan@example.com" in body
    assert "<iframe" in body and 'sandbox=""' in body
    srcdoc = unescape(body.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "Diffusion models for long video generation" in srcdoc
    assert "Diffusion models for long video generation" in body.split("<h3>Text</h3>", 1)[1]


def test_the_admin_sends_a_test_copy_to_themselves_without_touching_the_run(
    admin_client, admin_user, review_run, mailoutbox
):
    delivery = Delivery.objects.get(subscriber__email="ada@example.com")
    url = reverse("admin:digest_digestrun_test_copy", args=[review_run.pk])
    response = admin_client.post(url, {"delivery": delivery.pk, "to": "editor@example.org"})
    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [["editor@example.org"]]
    assert mailoutbox[0].subject.startswith("[Test copy for ada@example.com]")
    # The editor's mail client must not offer a one-click unsubscribe of the subscriber.
    headers = mailoutbox[0].extra_headers
    assert "List-Unsubscribe" not in headers and "List-Unsubscribe-Post" not in headers
    assert "List-Id" in headers
    delivery.refresh_from_db()
    assert delivery.status == "planned"


def test_the_admin_approves_a_run_and_it_sends(
    admin_client, review_run, mailoutbox, django_capture_on_commit_callbacks
):
    url = reverse("admin:digest_digestrun_approve", args=[review_run.pk])
    assert admin_client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url)
    assert response.status_code == 302
    review_run.refresh_from_db()
    assert (review_run.status, review_run.approved_by, len(mailoutbox)) == ("done", "admin", 2)


def test_the_admin_cancels_a_run(admin_client, review_run, mailoutbox):
    response = admin_client.post(reverse("admin:digest_digestrun_cancel", args=[review_run.pk]))
    assert response.status_code == 302
    review_run.refresh_from_db()
    assert review_run.status == DigestRun.Status.CANCELLED
    assert mailoutbox == []


def test_the_admin_resends_one_delivery_and_the_failed_of_a_run(
    admin_client, review_run, mailoutbox, django_capture_on_commit_callbacks
):
    sending.digest_run_approve(run=review_run, inline=True)
    ada, alan = Delivery.objects.order_by("subscriber__email")
    Delivery.objects.filter(pk=alan.pk).update(status="failed", last_error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:digest_delivery_resend", args=[ada.pk]))
        admin_client.post(reverse("admin:digest_digestrun_resend_failed", args=[review_run.pk]))
    assert [m.to[0] for m in mailoutbox[2:]] == ["ada@example.com", "alan@example.com"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_failed_deliveries_of_a_cancelled_run_are_not_queued_again(admin_client, review_run):
    sending.digest_run_cancel(run=review_run, user="editor")
    failed = Delivery.objects.first()
    Delivery.objects.filter(pk=failed.pk).update(status="failed", last_error="boom")
    DigestRun.objects.filter(pk=review_run.pk).update(failed_count=1)
    page = admin_client.get(reverse("admin:digest_digestrun_change", args=[review_run.pk]))
    assert b"Resend 1 failed" not in page.content

    response = admin_client.post(
        reverse("admin:digest_digestrun_resend_failed", args=[review_run.pk]), follow=True
    )
    assert b"The run is cancelled: nothing was queued." in response.content
    admin_client.post(reverse("admin:digest_delivery_resend", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.status == "failed"  # not planned: nothing would ever send it


def test_deliveries_are_searchable_by_email_and_show_the_exact_email(admin_client, review_run):
    changelist = reverse("admin:digest_delivery_changelist")
    found = admin_client.get(changelist, {"q": "alan@", "status__exact": "planned"})
    assert b"alan@example.com" in found.content
    assert b"ada@example.com" not in found.content
    delivery = Delivery.objects.get(subscriber__email="alan@example.com")
    page = admin_client.get(reverse("admin:digest_delivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert b"<iframe" in page.content
    assert b"Resend this delivery" in page.content


def test_the_old_daily_chart_address_leads_to_the_dashboard(admin_client):
    response = admin_client.get(reverse("admin:digest_digestrun_chart"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")

"""Admin for the digest runs and their deliveries.

Runs: progress and counts, approve / cancel / resend failed, preview any subscriber's
email (HTML in a sandboxed iframe and the text part) and send a test copy to yourself,
a daily chart of sent / delivered / opened / clicked / bounced beside the fetch runs.
Deliveries: search by email, filter by status, the exact email sent, resend one.
Every action calls a service; the admin only routes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from digest import emails, sending, tracking
from digest.models import Delivery, DigestRun, FetchRun

CHART_DAYS = 14


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "progress",
        "planned_count",
        "sent_count",
        "failed_count",
        "delivered_count",
        "opened_count",
        "clicked_count",
        "bounced_count",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "frequency")
    date_hierarchy = "edition_date"
    change_form_template = "admin/digest/digestrun/change_form.html"
    change_list_template = "admin/digest/digestrun/change_list.html"
    exclude = ("papers",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in DigestRun._meta.fields if f.name != "papers"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, run: DigestRun) -> str:
        done = run.sent_count + run.failed_count + run.skipped_count
        percent = round(100 * done / run.planned_count) if run.planned_count else 0
        return format_html('<progress max="100" value="{}"></progress> {}%', percent, percent)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("chart/", wrap(self.chart_view), name="digest_digestrun_chart"),
            path("<int:run_id>/approve/", wrap(self.approve_view), name="digest_digestrun_approve"),
            path("<int:run_id>/cancel/", wrap(self.cancel_view), name="digest_digestrun_cancel"),
            path(
                "<int:run_id>/resend-failed/",
                wrap(self.resend_failed_view),
                name="digest_digestrun_resend_failed",
            ),
            path("<int:run_id>/preview/", wrap(self.preview_view), name="digest_digestrun_preview"),
            path(
                "<int:run_id>/test-copy/",
                wrap(self.test_copy_view),
                name="digest_digestrun_test_copy",
            ),
            *super().get_urls(),
        ]

    def _run(self, run_id: int) -> DigestRun:
        return get_object_or_404(DigestRun, pk=run_id)

    def _back(self, run_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:digest_digestrun_change", args=[run_id]))

    def approve_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return require_POST(self._approve)(request, run_id)

    def _approve(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = sending.digest_run_approve(run=self._run(run_id), user=request.user.get_username())
        messages.success(request, f"Run {run}: {run.get_status_display()}.")
        return self._back(run_id)

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return require_POST(self._cancel)(request, run_id)

    def _cancel(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = sending.digest_run_cancel(run=self._run(run_id), user=request.user.get_username())
        messages.success(request, f"Run {run}: {run.get_status_display()}.")
        return self._back(run_id)

    def resend_failed_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return require_POST(self._resend_failed)(request, run_id)

    def _resend_failed(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = self._run(run_id)
        count = sending.digest_run_resend_failed(run=run)
        if run.status == DigestRun.Status.CANCELLED:
            messages.warning(request, "The run is cancelled: nothing was queued.")
        elif run.status == DigestRun.Status.PAUSED:
            messages.success(request, f"Queued {count} failed deliveries; resume the run to send.")
        else:
            messages.success(request, f"Queued {count} failed deliveries again.")
        return self._back(run_id)

    def preview_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = self._run(run_id)
        delivery = _pick_delivery(run, request.GET.get("email", ""))
        ctx = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {run}",
            "run": run,
            "delivery": delivery,
            "email_query": request.GET.get("email", ""),
            "rendered": emails.delivery_render(delivery=delivery) if delivery else None,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/digest/digestrun/preview.html", ctx)

    def test_copy_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return require_POST(self._test_copy)(request, run_id)

    def _test_copy(self, request: HttpRequest, run_id: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery, pk=request.POST.get("delivery"), run_id=run_id)
        to = request.POST.get("to") or getattr(request.user, "email", "")
        if not to:
            messages.error(request, "Give an address to send the test copy to.")
        else:
            sending.delivery_send_test_copy(delivery=delivery, to=to)
            messages.success(
                request, f"Test copy of {delivery.subscriber.email}'s email sent to {to}."
            )
        url = reverse("admin:digest_digestrun_preview", args=[run_id])
        return HttpResponseRedirect(f"{url}?email={delivery.subscriber.email}")

    def chart_view(self, request: HttpRequest) -> HttpResponse:
        rows = tracking.delivery_daily_stats(days=CHART_DAYS)
        peak = max([row["sent"] for row in rows] + [1])
        for row in rows:
            row["bars"] = {
                key: round(100 * row[key] / peak)
                for key in ("sent", "delivered", "opened", "clicked", "bounced")
            }
        ctx = {
            **self.admin_site.each_context(request),
            "title": "Deliveries per day",
            "rows": rows,
            "fetch_runs": FetchRun.objects.order_by("-started_at")[:20],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/digest/digestrun/chart.html", ctx)


def _pick_delivery(run: DigestRun, email: str) -> Delivery | None:
    deliveries = Delivery.objects.select_related("run", "subscriber").filter(run=run)
    if email:
        deliveries = deliveries.filter(subscriber__email__icontains=email.strip())
    return deliveries.order_by("pk").first()


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "subscriber",
        "run",
        "status",
        "attempts",
        "needs_reconciliation",
        "sent_at",
        "last_error_short",
    )
    list_filter = ("status", "needs_reconciliation", "run")
    search_fields = ("subscriber__email", "message_id", "esp_message_id")
    list_select_related = ("subscriber", "run")
    change_form_template = "admin/digest/delivery/change_form.html"
    actions = ["resend_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="last error")
    def last_error_short(self, delivery: Delivery) -> str:
        return delivery.last_error[:80]

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:delivery_id>/resend/",
                wrap(self.resend_view),
                name="digest_delivery_resend",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        delivery = Delivery.objects.select_related("run", "subscriber").filter(pk=object_id).first()
        extra = {**(extra_context or {})}
        if delivery is not None:
            extra["rendered"] = emails.delivery_render(delivery=delivery)
        return super().change_view(request, object_id, form_url, extra)

    def resend_view(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        return require_POST(self._resend)(request, delivery_id)

    def _resend(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery, pk=delivery_id)
        if sending.delivery_resend(delivery=delivery):
            messages.success(request, f"Delivery {delivery_id} queued again.")
        elif delivery.run.status == DigestRun.Status.CANCELLED:
            messages.warning(request, f"Delivery {delivery_id}'s run is cancelled: not queued.")
        else:
            messages.warning(request, f"Delivery {delivery_id} is being sent right now.")
        return HttpResponseRedirect(reverse("admin:digest_delivery_change", args=[delivery_id]))

    @admin.action(description="Resend the selected deliveries")
    def resend_selected(self, request: HttpRequest, queryset: Any) -> None:
        count = sum(sending.delivery_resend(delivery=d) for d in queryset)
        messages.success(request, f"Queued {count} deliveries again.")

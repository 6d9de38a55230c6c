"""Admin for the digest runs and their deliveries.

Runs: progress and counts, approve / cancel / resend failed, preview any subscriber's
email (HTML in a sandboxed iframe and the text part) and send a test copy to yourself,
the stages its emails reached (counted from events), a CSV export of its deliveries.
Deliveries: search by email, filter by run and status, the picks as a table, the exact
email sent, resend one. Both are read-only: no Save buttons. The charts are on the
admin's front page (ops.dashboard). Every action calls a service; the admin only routes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from digest import emails, sending
from digest.models import Delivery, DigestRun, Paper
from ops.exports import delivery_csv_rows
from ops.logs import log_context
from ops.stats import delivery_funnel

# A page with every field read-only: the Save buttons would only pretend.
READ_ONLY_PAGE = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
    "show_delete": False,
}


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    # Fits 1280 px beside the filters: one progress column says sent of planned.
    list_display = (
        "edition",
        "status",
        "progress",
        "failed",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "created",
    )
    list_filter = ("status", "frequency")
    search_fields = ("week", "note", "approved_by")
    date_hierarchy = "edition_date"
    change_form_template = "admin/digest/digestrun/change_form.html"
    exclude = ("papers",)
    actions = ["export_deliveries_csv"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in DigestRun._meta.fields if f.name != "papers"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[DigestRun]:
        return super().get_queryset(request).defer("papers")  # the snapshot is large

    @admin.display(description="edition", ordering="edition_date")
    def edition(self, run: DigestRun) -> str:
        return str(run)

    @admin.display(description="progress")
    def progress(self, run: DigestRun) -> SafeString:
        done = run.sent_count + run.failed_count + run.skipped_count
        percent = round(100 * done / run.planned_count) if run.planned_count else 0
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {} / {}',
            percent,
            percent,
            run.sent_count,
            run.planned_count,
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, run: DigestRun) -> str:
        return _short_time(run.created_at)

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, run: DigestRun) -> int:
        return run.failed_count

    @admin.display(description="delivered", ordering="delivered_count")
    def delivered(self, run: DigestRun) -> int:
        return run.delivered_count

    @admin.display(description="opened", ordering="opened_count")
    def opened(self, run: DigestRun) -> int:
        return run.opened_count

    @admin.display(description="clicked", ordering="clicked_count")
    def clicked(self, run: DigestRun) -> int:
        return run.clicked_count

    @admin.display(description="bounced", ordering="bounced_count")
    def bounced(self, run: DigestRun) -> int:
        return run.bounced_count

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {**READ_ONLY_PAGE, **(extra_context or {})}
        if object_id.isdigit():
            extra["funnel"] = delivery_funnel(
                deliveries=Delivery.objects.filter(run_id=int(object_id))
            )
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Export the deliveries of the selected runs (CSV)")
    def export_deliveries_csv(
        self, request: HttpRequest, queryset: QuerySet[DigestRun]
    ) -> StreamingHttpResponse:
        runs = list(queryset.defer("papers").order_by("edition_date"))
        name = "deliveries.csv" if len(runs) != 1 else _csv_name(runs[0])
        return _csv_response(delivery_csv_rows(runs=runs), name)

    def export_view(self, request: HttpRequest, run_id: int) -> StreamingHttpResponse:
        run = get_object_or_404(DigestRun.objects.defer("papers"), pk=run_id)
        return _csv_response(delivery_csv_rows(runs=[run]), _csv_name(run))

    def chart_view(self, request: HttpRequest) -> HttpResponse:
        # The 14-day chart moved to the admin's front page (30 days, drawn as SVG).
        return HttpResponseRedirect(reverse("admin:index"))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("chart/", wrap(self.chart_view), name="digest_digestrun_chart"),
            path(
                "<int:run_id>/deliveries.csv",
                wrap(self.export_view),
                name="digest_digestrun_export",
            ),
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
        with log_context(run_id=run_id):
            return require_POST(self._approve)(request, run_id)

    def _approve(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = sending.digest_run_approve(run=self._run(run_id), user=request.user.get_username())
        messages.success(request, f"Run {run}: {run.get_status_display()}.")
        back = request.POST.get("next", "")  # the dashboard's approve button
        if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            return HttpResponseRedirect(back)
        return self._back(run_id)

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        with log_context(run_id=run_id):
            return require_POST(self._cancel)(request, run_id)

    def _cancel(self, request: HttpRequest, run_id: int) -> HttpResponse:
        run = sending.digest_run_cancel(run=self._run(run_id), user=request.user.get_username())
        messages.success(request, f"Run {run}: {run.get_status_display()}.")
        return self._back(run_id)

    def resend_failed_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        with log_context(run_id=run_id):
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


def _short_time(at: datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else "-"


def _csv_name(run: DigestRun) -> str:
    return f"deliveries-{run.frequency}-{run.week or run.edition_date}.csv"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows: Iterable[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    lines: Iterator[str] = (writer.writerow(row) for row in rows)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _pick_delivery(run: DigestRun, email: str) -> Delivery | None:
    deliveries = Delivery.objects.select_related("run", "subscriber").filter(run=run)
    if email:
        deliveries = deliveries.filter(subscriber__email__icontains=email.strip())
    return deliveries.order_by("pk").first()


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "reader",
        "run",
        "status",
        "attempts",
        "reconcile",
        "sent",
        "last_error_short",
    )
    list_filter = ("status", "needs_reconciliation", "run__frequency", "run")
    search_fields = ("subscriber__email", "message_id", "esp_message_id")
    list_select_related = ("subscriber", "run")
    change_form_template = "admin/digest/delivery/change_form.html"
    actions = ["resend_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).defer("run__papers")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = [f.name for f in Delivery._meta.fields if f.name not in ("id", "picks")]
        return [*fields, "picks_table"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj)

    @admin.display(description="reader", ordering="subscriber__email")
    def reader(self, delivery: Delivery) -> SafeString:
        email = delivery.subscriber.email
        return format_html('<span class="ops-ellipsis short" title="{}">{}</span>', email, email)

    @admin.display(description="picks")
    def picks_table(self, delivery: Delivery) -> SafeString:
        return picks_table(delivery)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="check", boolean=True, ordering="needs_reconciliation")
    def reconcile(self, delivery: Delivery) -> bool:
        # Whether a dead worker left it: check with the ESP before resending.
        return delivery.needs_reconciliation

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, delivery: Delivery) -> str:
        return _short_time(delivery.sent_at)

    @admin.display(description="last error")
    def last_error_short(self, delivery: Delivery) -> SafeString:
        error = delivery.last_error
        return format_html('<span class="ops-ellipsis short" title="{}">{}</span>', error, error)

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
        extra = {**READ_ONLY_PAGE, **(extra_context or {})}
        if delivery is not None:
            extra["rendered"] = emails.delivery_render(delivery=delivery)
        return super().change_view(request, object_id, form_url, extra)

    def resend_view(self, request: HttpRequest, delivery_id: int) -> HttpResponse:
        with log_context(delivery_id=delivery_id):
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


def picks_table(delivery: Delivery) -> SafeString:
    """The picks as the reader got them: rank, paper, score, reason."""
    picks = delivery.picks if isinstance(delivery.picks, list) else []
    if not picks:
        return format_html("{}", "none")
    ids = [str(p.get("arxiv_id", "")) for p in picks]
    snapshot = DigestRun.objects.filter(pk=delivery.run_id).values_list("papers", flat=True)
    papers = snapshot.first() or {}
    missing = [i for i in ids if i not in papers]
    titles = {i: str(papers[i].get("title", "")) for i in ids if i in papers}
    titles.update(Paper.objects.filter(arxiv_id__in=missing).values_list("arxiv_id", "title"))
    rows = format_html_join(
        "",
        '<tr><td class="rank">{}</td><td><a href="https://arxiv.org/abs/{}">{}</a> '
        '<span class="ops-ellipsis" title="{}">{}</span></td>'
        '<td class="score">{}</td><td class="reason">{}</td></tr>',
        (
            (
                rank,
                arxiv_id,
                arxiv_id,
                titles.get(arxiv_id, ""),
                titles.get(arxiv_id, ""),
                _score(pick.get("score")),
                pick.get("reason", ""),
            )
            for rank, (arxiv_id, pick) in enumerate(zip(ids, picks, strict=True), start=1)
        ),
    )
    return format_html(
        '<table class="ops-picks"><thead><tr><th scope="col">Rank</th><th scope="col">Paper</th>'
        '<th scope="col">Score</th><th scope="col">Reason</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        rows,
    )


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else ""

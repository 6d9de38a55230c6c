"""Admin for the catalogue: papers, their trend rows and the fetch runs."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from digest.models import FetchRun, Paper, PaperTrend


class PaperTrendInline(admin.TabularInline):
    model = PaperTrend
    extra = 0
    can_delete = False
    fields = ("day", "source", "rank", "upvotes", "fetched_at")
    readonly_fields = fields
    ordering = ("-day", "source")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = (
        "arxiv_id",
        "short_title",
        "upvotes",
        "github_stars",
        "source_list",
        "updated_at",
    )
    list_filter = ("trends__source", "first_seen_at")
    search_fields = ("arxiv_id", "title", "authors")
    readonly_fields = ("first_seen_at", "updated_at", "links")
    ordering = ("-updated_at",)
    date_hierarchy = "first_seen_at"
    inlines = [PaperTrendInline]

    @admin.display(description="title", ordering="title")
    def short_title(self, paper: Paper) -> SafeString:
        # Cut by the browser with an ellipsis (ops/static/ops/admin.css), whole on hover.
        return format_html(
            '<span class="ops-ellipsis" title="{}">{}</span>', paper.title, paper.title
        )

    @admin.display(description="sources")
    def source_list(self, paper: Paper) -> str:
        return ", ".join(paper.sources)

    @admin.display(description="links")
    def links(self, paper: Paper) -> SafeString:
        urls = [("arXiv", paper.arxiv_url), ("PDF", paper.pdf_url), ("Hugging Face", paper.hf_url)]
        return format_html_join(" · ", '<a href="{}">{}</a>', ((u, n) for n, u in urls))


@admin.register(PaperTrend)
class PaperTrendAdmin(admin.ModelAdmin):
    # Written by the fetches only: history, so read-only here.
    list_display = ("day", "source", "rank", "upvotes", "paper", "fetched_at")
    list_filter = ("source", "day")
    search_fields = ("paper__arxiv_id", "paper__title")
    list_select_related = ("paper",)
    date_hierarchy = "day"
    ordering = ("-day", "source", "rank")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):
    list_display = (
        "day",
        "source",
        "status",
        "new_count",
        "updated_count",
        "skipped_count",
        "error_count",
        "duration",
        "started_at",
    )
    list_filter = ("status", "source", "day")
    date_hierarchy = "day"
    ordering = ("-started_at",)
    fields = (
        ("source", "day", "status"),
        ("started_at", "finished_at", "duration"),
        ("new_count", "updated_count", "skipped_count", "error_count"),
        "error_text",
        "skipped_table",
    )
    readonly_fields = (
        "source",
        "day",
        "status",
        "started_at",
        "finished_at",
        "duration",
        "new_count",
        "updated_count",
        "skipped_count",
        "error_count",
        "error_text",
        "skipped_table",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="duration")
    def duration(self, run: FetchRun) -> str:
        if run.finished_at is None:
            return "running" if run.status == FetchRun.Status.RUNNING else "-"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f}s"

    @admin.display(description="skipped records")
    def skipped_table(self, run: FetchRun) -> SafeString:
        if not run.skipped:
            return format_html("{}", "none")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (s.get("identifier", ""), s.get("kind", ""), s.get("reason", ""))
                for s in run.skipped
            ),
        )
        return format_html(
            "<table><tr><th>item</th><th>kind</th><th>reason</th></tr>{}</table>", rows
        )

"""Admin for subscribers, their consent records and their paper feedback.

Consent records are evidence: readable, never editable by hand.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from subscriptions import services
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.services import CONSENT_FIELDS


class ConsentInline(admin.StackedInline):
    # One per consent given (a resubscribe adds one), oldest first.
    model = ConsentRecord
    ordering = ("pk",)
    can_delete = False
    readonly_fields = CONSENT_FIELDS
    fields = CONSENT_FIELDS
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class FeedbackInline(admin.TabularInline):
    model = PaperFeedback
    fields = ("arxiv_id", "kind", "origin", "created_at")
    readonly_fields = ("created_at",)
    extra = 0


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "status",
        "frequency",
        "digest_size",
        "timezone",
        "send_hour",
        "paused_until",
        "joined",
        "confirmed",
    )
    list_filter = ("status", "frequency", "timezone", "digest_size", "deleted_at")
    search_fields = ("email", "interests")
    date_hierarchy = "created_at"
    readonly_fields = (
        "token_version",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "deleted_at",
        "soft_bounce_count",
    )
    inlines = (ConsentInline, FeedbackInline)
    actions = ("unsubscribe_selected", "resend_confirmation", "revoke_links")

    # Dates only in the list, so it fits 1280 px; the times are on the reader's page.
    @admin.display(description="joined", ordering="created_at")
    def joined(self, subscriber: Subscriber) -> str:
        return f"{timezone.localdate(subscriber.created_at):%Y-%m-%d}"

    @admin.display(description="confirmed", ordering="confirmed_at")
    def confirmed(self, subscriber: Subscriber) -> str:
        at = subscriber.confirmed_at
        return f"{timezone.localdate(at):%Y-%m-%d}" if at else "-"

    @admin.action(description="Unsubscribe selected subscribers")
    def unsubscribe_selected(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            services.subscriber_unsubscribe(
                subscriber=subscriber, method=ConsentRecord.UnsubscribeMethod.ADMIN
            )
        self.message_user(request, f"Unsubscribed {queryset.count()} subscriber(s).")

    @admin.action(description="Resend the confirmation email (pending only)")
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        pending = queryset.filter(status=Subscriber.Status.PENDING, deleted_at__isnull=True)
        for subscriber in pending:
            services.email_send_confirmation(subscriber=subscriber)
        self.message_user(request, f"Sent {pending.count()} confirmation email(s).")

    @admin.action(description="Revoke every link sent so far")
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        for subscriber in queryset:
            services.subscriber_revoke_links(subscriber=subscriber)
        self.message_user(request, "Old links revoked.", messages.WARNING)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = (
        "subscriber",
        "signup_at",
        "confirmed_at",
        "unsubscribed_at",
        "unsubscribe_method",
    )
    list_filter = ("unsubscribe_method", "consent_text_version")
    search_fields = ("subscriber__email",)
    readonly_fields = ("subscriber", *CONSENT_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PaperFeedback)
class PaperFeedbackAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "arxiv_id", "kind", "origin", "created_at")
    list_filter = ("kind", "origin")
    search_fields = ("subscriber__email", "arxiv_id")
    raw_id_fields = ("subscriber",)

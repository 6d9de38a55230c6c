from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"
    default = True

    def ready(self) -> None:
        from ops import logs, signals

        logs.connect_celery_signals()
        signals.connect()


class OpsAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the dashboard as its front page (ops.admin_site)."""

    default = False  # "ops" itself means OpsConfig

    default_site = "ops.admin_site.DigestAdminSite"

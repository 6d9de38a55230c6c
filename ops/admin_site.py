"""The admin site: branded, with the dashboard (ops.dashboard) as its front page.

Installed as the default admin site by ops.apps.OpsAdminConfig, so every
``admin.register`` in the project lands here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ops.dashboard import dashboard_context


class DigestAdminSite(admin.AdminSite):
    site_header = "Paper Digest"
    site_title = "Paper Digest admin"
    index_title = "Today at a glance"
    index_template = "admin/ops/dashboard.html"
    # The navigation sidebar takes 300 of 1280 px from every list; the front page and
    # the breadcrumbs lead everywhere it does.
    enable_nav_sidebar = False

    def index(self, request: HttpRequest, extra_context: Any = None) -> TemplateResponse:
        return super().index(request, {**dashboard_context(), **(extra_context or {})})

"""A URLconf that mounts the subscriber pages elsewhere (test_web_costs)."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("elsewhere/", include("subscriptions.urls"))]

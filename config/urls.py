from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("digest/", include("digest.urls")),
    # Only the configured ESP's tracking webhook, hardened (digest/tracking/webhooks.py).
    path("anymail/", include("digest.tracking.webhooks")),
    path("", include("subscriptions.urls")),
]

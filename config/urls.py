from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from digest.urls import public_urlpatterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("digest/", include("digest.urls")),
    # Only the configured ESP's tracking webhook, hardened (digest/tracking/webhooks.py).
    path("anymail/", include("digest.tracking.webhooks")),
    path("", include("ops.urls")),  # /healthz, /readyz, /metrics
    path("", include((public_urlpatterns, "public"))),
    path("", include("subscriptions.urls")),
]

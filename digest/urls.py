from __future__ import annotations

from django.urls import path, re_path

from digest import views

app_name = "digest"
urlpatterns = [
    path("feed/<str:token>/", views.feed, name="feed"),
    path("web/<str:token>/", views.web_version, name="web_version"),
    # The token is the email's feedback token (one per delivery); the paper must be a pick.
    path("why/<str:token>/<path:arxiv_id>/", views.why_paper, name="why_paper"),
]

# Public pages, mounted at the site root by config/urls.py.
public_urlpatterns = [
    path("archive/", views.archive, name="archive"),
    re_path(
        r"^archive/(?P<day>\d{4}-\d{2}-\d{2})/$",
        views.archive_day,
        name="archive_day",
    ),
    path("feed.xml", views.public_feed, name="feed"),
]

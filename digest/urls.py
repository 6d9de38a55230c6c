from __future__ import annotations

from django.urls import path

from digest import views

app_name = "digest"
urlpatterns = [
    path("feed/<str:token>/", views.feed, name="feed"),
    path("web/<str:token>/", views.web_version, name="web_version"),
]

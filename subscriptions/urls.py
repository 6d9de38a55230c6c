from __future__ import annotations

from django.urls import path, re_path

from subscriptions import views

app_name = "subscriptions"
urlpatterns = [
    path("", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("preview/", views.preview_digest, name="preview"),
    path("privacy/", views.privacy, name="privacy"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/", views.manage_link_request, name="manage_link_request"),
    path("manage/sent/", views.manage_link_sent, name="manage_link_sent"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/papers/remove/", views.feedback_remove, name="feedback_remove"),
    path("manage/<str:token>/export/", views.export, name="export"),
    path("manage/<str:token>/delete/", views.delete, name="delete"),
    path("manage/<str:token>/unsubscribe/", views.manage_unsubscribe, name="manage_unsubscribe"),
    path("manage/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
    path("manage/<str:token>/revoke/", views.revoke_links, name="revoke_links"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # One token per email; the kind and the paper are in the path. Old-style arXiv ids
    # ("hep-th/9901001") contain a slash. Listed before the older route below, which
    # would match anything; "like|dislike" keeps the older links out of this one.
    re_path(
        r"^feedback/(?P<token>[^/]+)/(?P<kind>like|dislike)/(?P<arxiv_id>.+)/$",
        views.delivery_feedback,
        name="delivery_feedback",
    ),
    # Older links, one token per paper and kind, still in mailboxes. path: old-style
    # arXiv ids put a slash inside the token.
    path("feedback/<path:token>/", views.feedback, name="feedback"),
]

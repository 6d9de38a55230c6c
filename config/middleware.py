"""Request hygiene: a request Django cannot read, or that carries control characters,
gets the normal 400 page before any view, form or database sees it.

Why a middleware: Django refuses a form body that declares a charset other than UTF-8
(BadRequest) without remembering that it did, so its 400 handler, which runs the CSRF
check, reads the body again and the refusal became a 500. Here the body is read once;
when it cannot be, the request goes on with an empty POST (the 400 page then renders)
and is answered 400. PostgreSQL refuses NUL in text, and no value of ours contains a
control character other than a line break or a tab, so those are refused too, wherever
they are: the path, the query string, a form field's name or value.

Views whose URL token is the whole authentication (RFC 8058's one-click unsubscribe)
work whatever the body: it is read as UTF-8 if possible, else taken as empty.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import Resolver404, get_resolver, resolve
from django.utils.datastructures import MultiValueDict

logger = logging.getLogger(__name__)

# URL names whose POST needs no body: the signed token in the URL authenticates.
BODY_OPTIONAL_VIEWS = frozenset({"subscriptions:unsubscribe"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Every C0 control character but tab, line feed and carriage return; and DEL.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadRequestBody(SuspiciousOperation):
    """The request cannot be read, or carries characters no value of ours may hold."""


class RequestHygieneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = _path_problem(request) or _body_problem(request)
        if problem is None:
            return self.get_response(request)
        if problem.startswith("body") and _body_optional(request):
            _read_leniently(request)
            return self.get_response(request)
        logger.warning("bad request to %r: %s", request.path[:200], problem)
        return _bad_request(request, problem)


def _path_problem(request: HttpRequest) -> str | None:
    if CONTROL_CHARS.search(request.path_info):
        return "control characters in the path"
    try:
        query = request.GET
    except Exception:  # anything Django cannot parse is the client's fault
        return "unreadable query string"
    if _has_control_chars(query):
        return "control characters in the query string"
    return None


def _body_problem(request: HttpRequest) -> str | None:
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return None
    try:
        form = request.POST
    except Exception as exc:  # BadRequest (charset), parse errors, too big
        _empty_body(request)
        return f"body unreadable ({type(exc).__name__})"
    if _has_control_chars(form):
        return "body has control characters"
    return None


def _has_control_chars(data: QueryDict) -> bool:
    values: Iterable[str] = (v for _key, items in data.lists() for v in items)
    return any(CONTROL_CHARS.search(text) for text in (*data.keys(), *values))


def _body_optional(request: HttpRequest) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.view_name in BODY_OPTIONAL_VIEWS


def _read_leniently(request: HttpRequest) -> None:
    """The form fields if the body reads as UTF-8 with nothing odd in it, else none."""
    try:
        form = QueryDict(request.body, encoding="utf-8")
    except Exception:  # the body was consumed, or is too big
        form = QueryDict()
    if _has_control_chars(form):
        form = QueryDict()
    request._post = form  # type: ignore[attr-defined]  # Django's own cache of POST
    request._files = MultiValueDict()  # type: ignore[attr-defined]


def _empty_body(request: HttpRequest) -> None:
    # What Django does after a multipart parse error, so nothing reads the body again
    # (the 400 handler's CSRF check reads request.POST).
    request._post = QueryDict()  # type: ignore[attr-defined]
    request._files = MultiValueDict()  # type: ignore[attr-defined]


def _bad_request(request: HttpRequest, problem: str) -> HttpResponse:
    if request.method == "POST":
        _empty_body(request)
    handler: Any = get_resolver().resolve_error_handler(400)
    response: HttpResponse = handler(request, exception=BadRequestBody(problem))
    return response

"""Issue #17 item 1: the preferences page and signup stay cheap (queries, round trips,
shared work) and write and show exactly what they did before they were made cheap."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.template import Context, Template
from django.test import Client, override_settings
from django.urls import reverse

from subscriptions import forms, ratelimit, services, tokens, views
from subscriptions.models import ConsentRecord, PaperFeedback, Subscriber
from subscriptions.tokens import Purpose
from tests.subscriptions.conftest import committed

SIGNUP = reverse("subscriptions:signup")


def _manage(sub: Subscriber) -> str:
    return reverse("subscriptions:manage", args=[tokens.make_token(sub, Purpose.MANAGE)])


# --- the preferences page ------------------------------------------------------------------


def test_the_preferences_page_reads_the_reader_and_their_feedback_in_two_queries(
    subscriber_factory, paper_trend_factory, client: Client, django_assert_num_queries
):
    sub = subscriber_factory()
    papers = [paper_trend_factory().paper for _ in range(3)]
    for paper in papers:
        PaperFeedback.objects.create(subscriber=sub, arxiv_id=paper.arxiv_id, kind="like")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2612.99999", kind="dislike")
    client.get(_manage(sub))  # the day's trending cards are cached by now
    with django_assert_num_queries(2):  # the token's reader; their feedback with titles
        html = client.get(_manage(sub)).content.decode()
    for paper in papers:
        assert paper.title in html
    assert "arXiv:2612.99999" in html  # a paper not in the catalogue: no title, its id


def test_the_feedback_list_is_newest_first_with_titles(subscriber_factory, paper_factory):
    sub = subscriber_factory()
    old, new = paper_factory(title="Old one"), paper_factory(title="New one")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id=old.arxiv_id, kind="like")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id=new.arxiv_id, kind="like")
    PaperFeedback.objects.create(subscriber=sub, arxiv_id="2611.00001", kind="dislike")
    lists = views._feedback_lists(sub)
    assert [item["title"] for item in lists["like"]] == ["New one", "Old one"]
    assert lists["dislike"] == [
        {"arxiv_id": "2611.00001", "title": "", "url": "https://arxiv.org/abs/2611.00001"}
    ]


@pytest.mark.parametrize("token", ["1.1:1xZ9ir:Ss4R0MM1Oy-g5la_Qf6c", "7.3:abc:d~e@f", "x y%z~é&"])
def test_the_token_pages_paths_are_what_reverse_gives(token: str):
    urls = views._token_urls(token)
    assert set(urls) == set(views.TOKEN_PAGES)
    for name, path in urls.items():
        assert path == reverse(f"subscriptions:{name}", args=[token])


def test_the_site_url_tag_is_the_url_tag():
    names = ["subscriptions:signup", "public:archive", "public:feed", "subscriptions:privacy"]
    for name in names:
        fast = Template("{% load site_urls %}{% site_url name %}").render(Context({"name": name}))
        assert fast == Template("{% url name %}").render(Context({"name": name}))


@override_settings(ROOT_URLCONF="tests.subscriptions.urls_elsewhere")
def test_the_site_url_tag_follows_a_changed_urlconf():
    rendered = Template('{% load site_urls %}{% site_url "subscriptions:privacy" %}').render(
        Context()
    )
    assert rendered == "/elsewhere/privacy/"


# --- forms: shared constant choices ----------------------------------------------------------


def test_form_instances_share_the_constant_choices_instead_of_copying_them():
    one, two = forms.PreferencesForm(), forms.PreferencesForm()
    for name in ("timezone", "categories", "send_hour", "weekday", "digest_size", "frequency"):
        assert one.fields[name] is not two.fields[name]
        assert one.fields[name].choices is two.fields[name].choices, name
        assert one.fields[name].widget is not two.fields[name].widget
        assert one.fields[name].widget.attrs is not two.fields[name].widget.attrs
    one.fields["send_hour"].widget.attrs["data-x"] = "1"  # a per-form change stays there
    assert "data-x" not in two.fields["send_hour"].widget.attrs
    assert copy.deepcopy(one.fields["timezone"]).valid_value("Europe/Paris")


def test_the_timezone_field_accepts_exactly_its_choices():
    field = forms.PreferencesForm().fields["timezone"]
    names = [value for value, _label in forms.TIMEZONE_CHOICES]
    assert all(field.valid_value(name) for name in names)
    for bad in ("Mars/Olympus_Mons", "", "utc", "Europe/Paris ", "Etc/GMT+5"):
        assert not field.valid_value(bad)


def test_cached_options_mark_each_renders_own_choice():
    # The options are escaped once per process; the marks must not leak between renders.
    first = str(forms.PreferencesForm(initial={"send_hour": 6, "categories": ["cs.CL"]}))
    second = str(forms.PreferencesForm(initial={"send_hour": 18, "categories": ["cs.AI"]}))
    assert '<option value="6" selected>' in first and '<option value="18">' in first
    assert '<option value="18" selected>' in second and '<option value="6">' in second
    assert 'value="cs.CL" id="id_categories_1" checked>' in first
    assert 'value="cs.CL" id="id_categories_1">' in second
    assert 'value="cs.AI" id="id_categories_0" checked>' in second


# --- signup: the rows it writes, its queries --------------------------------------------------


def _row(obj, *skip: str) -> dict:
    return {k: v for k, v in model_to_dict(obj).items() if k not in ("id", *skip)}


def test_the_signup_insert_writes_what_the_orm_would(db):
    prefs = {
        "interests": "diffusion models",
        "categories": ["cs.LG", "cs.CL"],
        "followed_authors": ["Fei-Fei Li"],
        "digest_size": 20,
        "frequency": "weekly",
        "weekday": 4,
        "send_hour": 6,
        "timezone": "Asia/Tokyo",
        "paused_until": None,
    }
    with committed():
        fast = services.subscriber_signup(
            email="fast@example.com", ip="203.0.113.7", user_agent="UA " * 300, **prefs
        )
    orm = Subscriber.objects.create(email="orm@example.com", status="pending", **prefs)
    ConsentRecord.objects.create(
        subscriber=orm,
        signup_at=orm.created_at,
        signup_ip="203.0.113.7",
        signup_user_agent=("UA " * 300)[: services.USER_AGENT_MAX],
        consent_text_version=services.settings.DIGEST_CONSENT_TEXT_VERSION,
    )
    stored = Subscriber.objects.get(pk=fast.pk)
    assert _row(stored, "email", "created_at") == _row(orm, "email", "created_at")
    assert stored.created_at == fast.created_at
    consent = ConsentRecord.objects.get(subscriber=stored)
    assert _row(consent, "subscriber", "signup_at") == _row(orm.consent, "subscriber", "signup_at")
    assert consent.signup_at == stored.created_at
    assert fast.consent == consent  # the returned instance is saved and usable
    assert not fast._state.adding


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement INSERT is PostgreSQL's (CI's)"
)
def test_a_signup_costs_two_queries(db, client: Client, signup_data, django_assert_num_queries):
    data = {**signup_data, "liked_papers": ""}
    with committed(), django_assert_num_queries(2):  # the address lookup; one INSERT
        response = client.post(SIGNUP, data, REMOTE_ADDR="203.0.113.1")
    assert response.status_code == 302
    sub = Subscriber.objects.get(email="Ada.Lovelace@example.com")
    assert sub.status == "pending" and sub.consent is not None


# --- rate limits: one round trip, same rules -----------------------------------------------


def test_an_ip_over_its_limit_does_not_count_against_the_address(rf):
    request = rf.post("/", REMOTE_ADDR="192.0.2.50")
    limited = ratelimit.form_post_limited
    assert (
        limited(request, group="t", ip_rate="1/h", email="a@example.com", email_rate="5/h") is None
    )
    for _ in range(3):
        assert (
            limited(request, group="t", ip_rate="1/h", email="a@example.com", email_rate="5/h")
            == "ip"
        )
    # Only the first post counted against the address: four more fit under 5/h.
    other = rf.post("/", REMOTE_ADDR="192.0.2.51")
    for _ in range(4):
        assert (
            limited(other, group="t", ip_rate="99/h", email="A@example.COM", email_rate="5/h")
            is None
        )
    assert (
        limited(other, group="t", ip_rate="99/h", email="a@example.com", email_rate="5/h")
        == "email"
    )


def test_the_limits_take_one_round_trip_on_redis(rf, settings, monkeypatch):
    # Production's cache; the tests' Redis is REDIS_URL (CI) or the broker's.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL or settings.CELERY_BROKER_URL,
        }
    }
    script = ratelimit._redis_script()
    calls = []
    location = settings.CACHES["default"]["LOCATION"]
    monkeypatch.setitem(ratelimit._scripts, location, lambda **kw: calls.append(kw) or script(**kw))
    request = rf.post("/", REMOTE_ADDR="192.0.2.60")
    ratelimit.form_post_limited(
        request, group="t", ip_rate="9/h", email="b@example.com", email_rate="9/h"
    )
    assert len(calls) == 1 and len(calls[0]["keys"]) == 2
    assert calls[0]["args"] == [9, 3600, 9, 3600]


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_the_limits_also_count_in_another_cache(rf):
    request = rf.post("/", REMOTE_ADDR="192.0.2.70")
    limited = ratelimit.form_post_limited
    assert limited(request, group="lm", ip_rate="2/h") is None
    assert limited(request, group="lm", ip_rate="2/h") is None
    assert limited(request, group="lm", ip_rate="2/h") == "ip"
    assert (
        limited(
            rf.post("/", REMOTE_ADDR="192.0.2.71"),
            group="lm",
            ip_rate="2/h",
            email="c@example.com",
            email_rate="1/h",
        )
        is None
    )
    assert (
        limited(
            rf.post("/", REMOTE_ADDR="192.0.2.72"),
            group="lm",
            ip_rate="2/h",
            email="C@example.com",
            email_rate="1/h",
        )
        == "email"
    )


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
)
def test_a_cache_that_is_down_limits_nothing(rf):
    request = rf.post("/", REMOTE_ADDR="192.0.2.80")
    for _ in range(3):
        assert ratelimit.form_post_limited(request, group="d", ip_rate="1/h") is None


@pytest.mark.parametrize(
    ("rate", "limit", "seconds"),
    [
        ("10/h", 10, 3600),
        ("120/m", 120, 60),
        ("100/5m", 100, 300),
        ("3/d", 3, 86400),
        ("1/s", 1, 1),
        ("100000000/h", 100000000, 3600),
    ],
)
def test_rates_read_as_django_ratelimit_wrote_them(rate: str, limit: int, seconds: int):
    assert ratelimit.parse_rate(rate) == ratelimit.Rate(limit=limit, seconds=seconds)


def test_a_bad_rate_says_how_to_write_it():
    with pytest.raises(ValueError, match="10/h"):
        ratelimit.parse_rate("ten an hour")

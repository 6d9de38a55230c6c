from __future__ import annotations

from datetime import date

import pytest
import time_machine

from subscriptions.forms import (
    MAX_AUTHORS,
    MAX_INTERESTS_CHARS,
    MAX_PAPERS,
    PreferencesForm,
    SignupForm,
)


def _form(data: dict, **overrides) -> SignupForm:
    return SignupForm({**data, **overrides})


def test_it_accepts_a_full_signup(signup_data):
    form = _form(signup_data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["liked_papers"] == ["2501.01234", "2502.04321"]
    assert form.cleaned_data["followed_authors"] == ["Yann LeCun", "Fei-Fei Li"]
    assert form.cleaned_data["digest_size"] == 5
    assert form.cleaned_data["weekday"] == 2


def test_it_strips_the_email_and_lower_cases_only_the_domain(signup_data):
    form = _form(signup_data, email="  Ada.Lovelace@Example.COM \n")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["email"] == "Ada.Lovelace@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "ada@example..com"])
def test_it_rejects_a_malformed_email(signup_data, email):
    form = _form(signup_data, email=email)
    assert not form.is_valid()
    assert form.errors["email"] == ["Enter a valid email address."]


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com\r\nBcc: victim@example.org",
        "ada@example.com\nCc: victim@example.org",
        "ada@exa\rmple.com",
        "ada\x00@example.com",
    ],
)
def test_it_rejects_header_injection_in_the_email(signup_data, email):
    form = _form(signup_data, email=email)
    assert not form.is_valid()
    assert "line breaks" in form.errors["email"][0]


def test_it_limits_the_email_length(signup_data):
    form = _form(signup_data, email="a" * 250 + "@example.com")
    assert not form.is_valid()
    assert "at most 254 characters" in form.errors["email"][0]


def test_it_limits_the_interests_length(signup_data):
    form = _form(signup_data, interests="x" * (MAX_INTERESTS_CHARS + 1))
    assert not form.is_valid()
    assert f"at most {MAX_INTERESTS_CHARS} characters" in form.errors["interests"][0]
    assert _form(signup_data, interests="x" * MAX_INTERESTS_CHARS).is_valid()


def test_it_requires_interests_and_says_so(signup_data):
    form = _form(signup_data, interests="   ")
    assert not form.is_valid()
    assert form.errors["interests"] == ["Tell us at least one topic you want papers about."]


def test_it_limits_the_number_of_liked_papers(signup_data):
    ids = "\n".join(f"2501.{n:05d}" for n in range(MAX_PAPERS + 1))
    form = _form(signup_data, liked_papers=ids)
    assert not form.is_valid()
    assert f"at most {MAX_PAPERS} papers" in form.errors["liked_papers"][0]


def test_it_names_the_paper_ids_it_cannot_read(signup_data):
    form = _form(signup_data, liked_papers="2501.01234, my favourite paper")
    assert not form.is_valid()
    assert "my favourite paper" in form.errors["liked_papers"][0]


def test_it_limits_followed_authors_in_number_and_length(signup_data):
    many = "\n".join(f"Author {n}" for n in range(MAX_AUTHORS + 1))
    assert (
        "at most 20 authors"
        in _form(signup_data, followed_authors=many).errors["followed_authors"][0]
    )
    long_name = _form(signup_data, followed_authors="A" * 101)
    assert "at most 100 characters" in long_name.errors["followed_authors"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("digest_size", "7"),
        ("frequency", "hourly"),
        ("weekday", "9"),
        ("send_hour", "24"),
        ("timezone", "Mars/Olympus_Mons"),
        ("categories", ["cs.XX"]),
    ],
)
def test_it_rejects_values_outside_the_choices(signup_data, field, value):
    form = _form(signup_data, **{field: value})
    assert not form.is_valid()
    assert field in form.errors


def test_it_flags_a_filled_honeypot_without_an_error(signup_data):
    form = _form(signup_data, website="http://spam.example")
    assert form.is_valid()
    assert form.is_bot


@time_machine.travel(date(2026, 11, 20))
def test_it_only_pauses_until_a_future_date_within_a_year(signup_data):
    def pause(day: str) -> PreferencesForm:
        return PreferencesForm({**signup_data, "paused_until": day})

    assert pause("2026-12-24").is_valid()
    assert "after today" in pause("2026-11-20").errors["paused_until"][0]
    assert "at most 365 days" in pause("2027-12-24").errors["paused_until"][0]


# --- issue #13: one date format, the cached time-zone select, ♡ likes ----------------------


def test_the_pause_date_is_shown_and_read_in_the_sites_one_format(signup_data):
    from subscriptions.forms import PreferencesForm as Form

    html = str(Form(initial={"paused_until": date(2027, 1, 5)})["paused_until"])
    assert 'value="5 January 2027"' in html and 'type="text"' in html
    with time_machine.travel(date(2026, 11, 20)):
        for typed in ("5 January 2027", "2027-01-05", "05 Jan 2027"):
            form = Form({**signup_data, "paused_until": typed})
            assert form.is_valid(), form.errors
            assert form.cleaned_data["paused_until"] == date(2027, 1, 5)
        form = Form({**signup_data, "paused_until": "01/05/2027"})
        assert "like 24 December 2026" in form.errors["paused_until"][0]


def test_the_time_zone_select_marks_only_the_chosen_zone():
    from subscriptions.forms import SignupForm as Form

    html = str(Form(initial={"timezone": "Europe/Paris"})["timezone"])
    assert html.count("<option") > 400 and html.count(" selected") == 1
    assert '<option value="Europe/Paris" selected>Europe/Paris</option>' in html
    assert 'id="id_timezone"' in html and 'name="timezone"' in html
    plain = str(Form()["timezone"])
    assert '<option value="UTC" selected>' in plain and plain.count(" selected") == 1


def test_hearts_add_to_the_liked_papers_up_to_the_limit(signup_data):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update({k: v for k, v in signup_data.items() if not isinstance(v, list)})
    data.setlist("categories", signup_data["categories"])
    data.setlist("liked", ["2607.00001", "2501.01234"])
    form = SignupForm(data)
    assert form.is_valid(), form.errors
    assert form.preferences()["liked_papers"] == ["2501.01234", "2502.04321", "2607.00001"]
    data.setlist("liked", [f"2607.{n:05d}" for n in range(20)])
    assert "at most 20" in SignupForm(data).errors["liked_papers"][0]

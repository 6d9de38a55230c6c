from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.env import env_bool, env_float, env_hours, env_int, env_list

BASE_DIR = Path(__file__).resolve().parents[2]
NAME = "DIGEST_TEST_SETTING"


@pytest.fixture
def setenv(monkeypatch):
    def _set(value: str) -> None:
        monkeypatch.setenv(NAME, value)

    monkeypatch.delenv(NAME, raising=False)
    return _set


@pytest.mark.parametrize("raw", ["true", "True", "TRUE", "1", "yes", "on", " On "])
def test_it_reads_true_words(setenv, raw):
    setenv(raw)
    assert env_bool(NAME, default=False) is True


@pytest.mark.parametrize("raw", ["false", "False", "0", "no", "OFF"])
def test_it_reads_false_words(setenv, raw):
    setenv(raw)
    assert env_bool(NAME, default=True) is False


def test_it_rejects_a_misspelt_boolean_naming_variable_and_value(setenv):
    setenv("ture")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_bool(NAME, default=False)
    assert str(excinfo.value) == f"{NAME}='ture' is not a boolean (use true/false)"


def test_it_uses_the_default_when_unset_or_empty(setenv):
    assert env_bool(NAME, default=True) is True
    assert env_int(NAME, default=7) == 7
    assert env_float(NAME, default=0.5) == 0.5
    assert env_list(NAME, default=["a"]) == ["a"]
    assert env_hours(NAME, default=[9]) == [9]
    setenv("  ")
    assert env_bool(NAME, default=True) is True
    assert env_int(NAME, default=7) == 7


def test_it_reads_an_integer(setenv):
    setenv(" 42 ")
    assert env_int(NAME, default=0) == 42


@pytest.mark.parametrize("raw", ["4.5", "ten", "1e3"])
def test_it_rejects_a_non_integer(setenv, raw):
    setenv(raw)
    with pytest.raises(ImproperlyConfigured, match=f"{NAME}='{raw}' is not an integer"):
        env_int(NAME, default=0)


def test_it_reads_a_float(setenv):
    setenv("0.25")
    assert env_float(NAME, default=0) == 0.25


@pytest.mark.parametrize("raw", ["fast", "nan", "inf", "0,5"])
def test_it_rejects_a_non_number(setenv, raw):
    setenv(raw)
    with pytest.raises(ImproperlyConfigured, match=f"{NAME}='{raw}' is not a"):
        env_float(NAME, default=0)


def test_it_reads_a_list_dropping_blanks_around_items(setenv):
    setenv("hf_api, arxiv_rss")
    assert env_list(NAME, default=[]) == ["hf_api", "arxiv_rss"]


def test_it_reads_an_empty_list_when_set_but_empty(setenv):
    setenv("")
    assert env_list(NAME, default=["a"]) == []


def test_it_rejects_a_list_with_an_empty_item(setenv):
    setenv("hf_api,,arxiv_rss")
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list(NAME, default=[])


def test_it_reads_hours(setenv):
    setenv("9, 12,16")
    assert env_hours(NAME, default=[]) == [9, 12, 16]


@pytest.mark.parametrize("raw", ["9,noon", "24", "-1", "9;12"])
def test_it_rejects_bad_hours(setenv, raw):
    setenv(raw)
    with pytest.raises(ImproperlyConfigured, match="is not a comma-separated list of hours 0-23"):
        env_hours(NAME, default=[])


def test_a_misspelt_boolean_stops_the_process_at_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env["DIGEST_REQUIRE_APPROVAL"] = "ture"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DIGEST_REQUIRE_APPROVAL='ture' is not a boolean" in result.stderr

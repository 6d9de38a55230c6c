"""No Docker engine runs here, so check docker-compose.yml's structure and that every
variable it sets is one the settings read, and means what the settings expect."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DJANGO_SERVICES = ("web", "worker", "beat")
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _environment(service: dict[str, Any]) -> dict[str, str]:
    # Resolve ${NAME:-default} the way docker compose does when NAME is unset.
    return {
        k: _DEFAULT.sub(lambda m: m.group(2), str(v)) for k, v in service["environment"].items()
    }


def test_it_runs_the_whole_stack(compose):
    services = compose["services"]
    always = {name for name, service in services.items() if "profiles" not in service}
    assert always == {"postgres", "redis", "mailpit", "web", "worker", "beat", "proxy"}
    assert "8025:8025" in services["mailpit"]["ports"]


def test_flower_is_an_optional_profile_on_the_same_image(compose):
    flower = compose["services"]["flower"]
    assert flower["profiles"] == ["flower"]
    assert (flower["image"], flower["build"]) == ("paper-digest", ".")
    assert flower["command"].startswith("celery -A config.celery_app flower")
    assert "5555:5555" in flower["ports"]
    assert _environment(flower)["FLOWER_BASIC_AUTH"]  # never an open monitor
    # The same environment as the other Django services, plus its own.
    assert set(_environment(compose["services"]["worker"])) < set(_environment(flower))
    assert (
        "flower"
        in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    assert '".[flower]"' in (ROOT / "Dockerfile").read_text()


def test_web_worker_and_beat_have_healthchecks(compose):
    services = compose["services"]
    for name in DJANGO_SERVICES:
        check = services[name]["healthcheck"]
        assert {"test", "interval", "timeout", "retries", "start_period"} <= set(check)
    assert "http://127.0.0.1:8000/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping -d celery@$$HOSTNAME" in services["worker"]["healthcheck"]["test"][1]
    assert services["beat"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "manage.py",
        "ops_check",
        "beat",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_web_healthcheck_passes_against_a_ready_server_and_fails_otherwise(
    compose, live_server
):
    command = compose["services"]["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3].replace("http://127.0.0.1:8000", live_server.url)
    ready = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert ready.returncode == 0, ready.stderr
    nothing = code.replace(live_server.url, "http://127.0.0.1:8498")  # nothing listens
    down = subprocess.run([sys.executable, "-c", nothing], capture_output=True, timeout=30)
    assert down.returncode != 0


def test_it_builds_one_image_for_web_worker_and_beat(compose):
    services = compose["services"]
    assert {services[name]["image"] for name in DJANGO_SERVICES} == {"paper-digest"}
    assert {services[name]["build"] for name in DJANGO_SERVICES} == {"."}
    assert (ROOT / "Dockerfile").exists()


def test_its_commands_start_gunicorn_a_worker_and_beat(compose):
    services = compose["services"]
    assert "gunicorn config.wsgi:application" in services["web"]["command"]
    assert "migrate" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A config.celery_app worker")
    assert services["beat"]["command"].startswith("celery -A config.celery_app beat")


def test_every_variable_it_sets_is_read_by_the_settings(compose):
    settings_source = "\n".join(p.read_text() for p in (ROOT / "config" / "settings").glob("*.py"))
    env = _environment(compose["services"]["web"])
    unread = [
        name
        for name in env
        if name != "DJANGO_SETTINGS_MODULE"
        and not re.search(rf"""env(?:\.\w+|_\w+)?\(\s*["']{name}["']""", settings_source)
    ]
    assert unread == []


def test_the_production_settings_accept_its_environment(compose):
    env = _environment(compose["services"]["worker"])
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], "
        "'host': s.DATABASES['default']['HOST'], 'broker': s.CELERY_BROKER_URL, "
        "'cache': s.CACHES['default']['BACKEND'], 'email': s.EMAIL_BACKEND, "
        "'email_host': s.EMAIL_HOST, 'sources': s.DIGEST_SOURCES, 'debug': s.DEBUG, "
        "'vt': s.CELERY_BROKER_TRANSPORT_OPTIONS.get('visibility_timeout')}))"
    )
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **env}
    output = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = json.loads(output)
    assert loaded["db"] == "django.db.backends.postgresql"
    assert loaded["host"] == "postgres"
    assert loaded["broker"] == "redis://redis:6379/1"
    assert loaded["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert loaded["email_host"] == "mailpit"
    assert loaded["sources"] == ["hf_api", "hf_page", "arxiv_rss"]
    assert loaded["debug"] is False
    assert loaded["vt"] >= 3600


def test_the_production_settings_refuse_to_start_without_a_shared_cache(compose):
    env = dict(_environment(compose["services"]["worker"]))
    env.pop("REDIS_URL")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT), **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "REDIS_URL must be set in the environment" in result.stderr


def test_a_buffering_proxy_faces_clients_not_gunicorn(compose):
    services = compose["services"]
    assert "ports" not in services["web"]  # gunicorn is reachable only through the proxy
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "8000:80" in proxy["ports"]
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert _environment(services["web"])["SUBSCRIPTIONS_TRUSTED_PROXY_COUNT"] == "1"


def test_the_proxy_buffers_whole_requests_and_drops_stalled_clients():
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    directives = {
        line.strip().rstrip(";").split(None, 1)[0]: line.strip().rstrip(";").split(None, 1)[-1]
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#") and line.strip().endswith(";")
    }
    assert directives["proxy_request_buffering"] == "on"
    assert directives["proxy_buffering"] == "on"
    assert directives["client_body_timeout"] == "15s"
    assert directives["client_header_timeout"] == "15s"
    assert directives["proxy_set_header"]  # the last one; all of them below
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf  # never the client's
    assert "server web:8000;" in conf
    assert "proxy_pass http://django;" in conf


def test_the_proxy_config_is_valid_nginx(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is needed to check deploy/nginx/nginx.conf: apt-get install nginx-light")
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    conf = conf.replace("server web:8000;", "server 127.0.0.1:8000;")
    conf = conf.replace("listen 80;", "listen 127.0.0.1:8399;")
    (tmp_path / "logs").mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n" + conf)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr

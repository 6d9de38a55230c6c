"""Issue #15 finding 6: can the manage-link form's response time tell a known address?

Two checkouts (BENCH_BEFORE, default /tmp/harden-before, e.g. `git worktree add
/tmp/harden-before main`; and this one) each run gunicorn with the production
settings on the same database, sending over SMTP to one aiosmtpd server here that
takes 50 ms to accept each message (a remote mail server). Interleaved, each request a
new connection: POST /manage/ with a known address and with unknown ones. Prints the
median response time of each, per checkout, and the known - unknown difference.

    DATABASE_URL=... REDIS_URL=... CELERY_BROKER_URL=... .venv/bin/python bench/harden_timing.py
"""

from __future__ import annotations

import asyncio
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harden_slow_clients import django_env, start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
BEFORE = Path(os.environ.get("BENCH_BEFORE", "/tmp/harden-before"))
SMTP_PORT = 8302
PORTS = {"before": 8303, "after": 8304}
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "100"))
KNOWN = "known-reader@example.com"


class SlowServer:
    """Accepts every message after 50 ms, like a mail server across the internet."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.05)
        self.received += 1
        return "250 OK"


def _env() -> dict[str, str]:
    unlimited = "1000000/h"
    return {
        **django_env(),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(SMTP_PORT),
        "SUBSCRIPTIONS_TRUSTED_PROXY_COUNT": "0",
        "SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_IP": unlimited,
        "SUBSCRIPTIONS_MANAGE_LINK_RATE_PER_EMAIL": unlimited,
    }


def _csrf(port: int) -> tuple[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/manage/", headers={"Host": "127.0.0.1"})
    response = conn.getresponse()
    body = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    conn.close()
    return cookie, token


def _post(port: int, csrf: tuple[str, str], email: str) -> float:
    cookie, token = csrf
    body = f"csrfmiddlewaretoken={token}&email={email}&website="
    headers = {
        "Host": "127.0.0.1",
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookie}",
    }
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/manage/", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    assert response.status == 302, response.status
    return elapsed


def main() -> None:
    env = _env()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from subscriptions.models import Subscriber;"
            f"Subscriber.objects.get_or_create(email='{KNOWN}', defaults={{'status': 'active'}})",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    smtp = SlowServer()
    controller = Controller(smtp, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    trees = {"before": BEFORE, "after": ROOT}
    servers = {name: start_gunicorn(root, PORTS[name], env) for name, root in trees.items()}
    times: dict[tuple[str, str], list[float]] = {
        (tree, kind): [] for tree in trees for kind in ("known", "unknown")
    }
    try:
        csrf = {name: _csrf(PORTS[name]) for name in trees}
        for _ in range(REQUESTS):
            order = [(tree, kind) for tree in trees for kind in ("known", "unknown")]
            random.shuffle(order)
            for tree, kind in order:
                # One address of each kind, repeated, as someone probing one address would.
                email = KNOWN if kind == "known" else "stranger@example.com"
                times[(tree, kind)].append(_post(PORTS[tree], csrf[tree], email))
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(10)
        controller.stop()
    print(
        f"load average: {os.getloadavg()}; {REQUESTS} requests each; emails received: {smtp.received}"
    )
    for tree in trees:
        known = statistics.median(times[(tree, "known")]) * 1000
        unknown = statistics.median(times[(tree, "unknown")]) * 1000
        print(
            f"{tree:7s} known {known:7.1f} ms   unknown {unknown:7.1f} ms   difference {known - unknown:+6.1f} ms"
        )


if __name__ == "__main__":
    main()

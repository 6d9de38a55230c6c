"""In-process cost of the preferences page and of a signup (issue #17 item 1).

Calls Django's WSGI handler directly, as gunicorn's sync worker does (production
settings, every middleware, CSRF checked, PostgreSQL + Redis), --requests times per page
after a warm-up, and reports per request the CPU time of this process (what a gunicorn
worker spends: the figure that carries to another machine) and the wall time (which
also waits for PostgreSQL and Redis). --profile prints the cProfile top of each page.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../6 CELERY_BROKER_URL=redis://.../8 \
      .venv/bin/python bench/web_profile.py [--requests 500] [--profile]

Run it from another checkout (cd /path/to/tree && /this/venv/bin/python
/this/tree/bench/web_profile.py) to measure that checkout: the current directory's code
is imported. Signups add bench-profile-*@example.com rows; their confirmation tasks go
to CELERY_BROKER_URL (flush that Redis db afterwards).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, os.getcwd())  # the checkout being measured
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings.production",
    ALLOWED_HOSTS="127.0.0.1",
    SITE_URL="https://127.0.0.1:8250",
    EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    SUBSCRIPTIONS_SIGNUP_RATE_PER_IP="100000000/h",
    SUBSCRIPTIONS_SIGNUP_RATE_PER_EMAIL="100/h",
    LOG_LEVEL="WARNING",
)
os.environ.setdefault("SECRET_KEY", "bench-web-load-not-a-secret-0123456789abcdef")
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL", ""))

CSRF = "benchCSRFsecret0123456789abcdefX"  # as bench/web_signup.lua sends it


def _environ(method: str, path: str, body: bytes = b"", **extra: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8250",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8250",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--only", choices=["preferences", "signup", "small"], help="one page only")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    from digest.models import Paper
    from subscriptions import tokens
    from subscriptions.models import PaperFeedback, Subscriber

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    if not Paper.objects.exists():
        sample = str(settings.DIGEST_SAMPLE_DIR / "hf_daily_papers")
        call_command("fetch_papers", "--file", sample, verbosity=0)
    sub, _ = Subscriber.objects.get_or_create(
        email="bench-reader@example.com",
        defaults={
            "status": "active",
            "interests": "diffusion models, agents",
            "timezone": "Europe/Berlin",
        },
    )
    for p in Paper.objects.order_by("-upvotes")[:3]:
        PaperFeedback.objects.get_or_create(
            subscriber=sub, arxiv_id=p.arxiv_id, defaults={"kind": "like"}
        )
    manage_path = tokens.manage_url(sub).removeprefix(settings.SITE_URL)
    handler = WSGIHandler()
    run = f"{os.getpid()}-{int(time.time())}"
    counter = iter(range(10**9))

    def call(environ: dict[str, Any], expect: int) -> None:
        status: list[str] = []
        body = handler(environ, lambda s, h, *a: status.append(s))
        b"".join(body)
        body.close()  # type: ignore[attr-defined]  # request_finished: connections, on_commit
        if not status[0].startswith(str(expect)):
            raise SystemExit(f"{environ['PATH_INFO']}: {status[0]}")

    def preferences() -> None:
        call(_environ("GET", manage_path), 200)

    def signup() -> None:
        form = urlencode(
            {
                "csrfmiddlewaretoken": CSRF,
                "email": f"bench-profile-{run}-{next(counter)}@example.com",
                "interests": "diffusion models, retrieval",
                "digest_size": "10",
                "frequency": "daily",
                "weekday": "0",
                "send_hour": "7",
                "timezone": "UTC",
                "website": "",
            }
        ).encode()
        environ = _environ(
            "POST",
            "/",
            form,
            CONTENT_TYPE="application/x-www-form-urlencoded",
            HTTP_COOKIE=f"csrftoken={CSRF}",
            HTTP_REFERER="https://127.0.0.1:8250/",
        )
        call(environ, 302)

    def small_page() -> None:  # the floor: middleware, URL resolution, a small template
        call(_environ("GET", "/signup/done/"), 200)

    pages: dict[str, Callable[[], None]] = {
        "preferences GET": preferences,
        "signup POST": signup,
        "small page GET": small_page,
    }
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"tree: {os.getcwd()}; load average {load}")
    for label, page in pages.items():
        if args.only and not label.startswith(args.only):
            continue
        for _ in range(50):
            page()
        cpu: list[float] = []
        wall: list[float] = []
        # CPU time, not wall: the machine is shared, and waiting is not what a worker spends.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        for _ in range(args.requests):
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            page()
            if profiler:
                profiler.disable()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        print(
            f"{label:16s} CPU {1000 * statistics.mean(cpu):6.2f} ms/request (median "
            f"{1000 * statistics.median(cpu):5.2f})   wall median {1000 * statistics.median(wall):6.2f} ms"
        )
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()

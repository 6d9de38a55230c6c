"""Each render speed trick's share, in one process: bench/email_render.py's emails with
one trick at a time switched back to the plain way, variants alternating per round.

  final               as the code is
  django signer       tokens signed through django.core.signing.TimestampSigner
  hmac.digest signer  a cached derived key and hmac.digest (the first fast signer)
  no packed bodies    DigestEmail without its prepared MIME bodies (encode + pack_html)
  django headers      forbid_multi_line_headers for every header, formatdate per email

CPU (process_time) per email in µs, medians of --rounds rounds of --emails emails.

    .venv/bin/python bench/email_render_shares.py [--emails 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import statistics
import sys
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.email_render import REASONS, _setup

VARIANTS = ["final", "django signer", "hmac.digest signer", "no packed bodies", "django headers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    renderer, ids, readers = _setup(Path(__file__).resolve().parent.parent)
    from django.conf import settings
    from django.core import signing
    from django.core.mail.message import forbid_multi_line_headers

    from digest.emails import mime
    from subscriptions import tokens

    fast = (tokens.sign, mime._checked, mime._date_now)
    keys: dict[Any, bytes] = {}

    def django_sign(value: str, purpose: Any) -> str:
        return signing.TimestampSigner(salt=tokens.salt(purpose)).sign(value)

    def digest_sign(value: str, purpose: Any) -> str:
        if purpose not in keys:
            salted = f"{tokens.salt(purpose)}signer{settings.SECRET_KEY}".encode()
            keys[purpose] = hashlib.sha256(salted).digest()
        value = f"{value}:{tokens._timestamp()}"
        mac = hmac.digest(keys[purpose], value.encode(), "sha256")
        return f"{value}:{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    picks = [
        [
            {"arxiv_id": ids[(i * 7 + j * 13) % len(ids)], "reason": REASONS[(i + j) % 3]}
            for j in range(10)
        ]
        for i in range(args.emails)
    ]

    def run(name: str) -> tuple[float, float]:
        tokens.sign, mime._checked, mime._date_now = fast
        if name == "django signer":
            tokens.sign = django_sign
        elif name == "hmac.digest signer":
            tokens.sign = digest_sign
        elif name == "django headers":
            mime._checked = lambda n, v: forbid_multi_line_headers(n, v, "utf-8")
            mime._date_now = lambda localtime: formatdate(localtime=localtime)
        rendering = mime_s = 0.0
        for i in range(args.emails):
            t0 = time.process_time()
            message = renderer.message(  # type: ignore[attr-defined]
                delivery_id=i + 1,
                message_id=f"<d.{i}@x>",
                subscriber=readers[i % 200],
                picks=picks[i],
            )
            t1 = time.process_time()
            if name == "no packed bodies":
                message.bodies = None
            message.message().as_bytes()
            mime_s += time.process_time() - t1
            rendering += t1 - t0
        return rendering / args.emails * 1e6, mime_s / args.emails * 1e6

    run("final")  # warm up
    timings: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in VARIANTS}
    for _ in range(args.rounds):
        for name in VARIANTS:
            render_us, mime_us = run(name)
            timings[name][0].append(render_us)
            timings[name][1].append(mime_us)
    for name in VARIANTS:
        render_runs, mime_runs = timings[name]
        print(
            json.dumps(
                {
                    "variant": name,
                    "render_us": round(statistics.median(render_runs), 1),
                    "mime_us": round(statistics.median(mime_runs), 1),
                }
            )
        )


if __name__ == "__main__":
    main()

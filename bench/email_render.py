"""CPU per digest email, in one process: render (RunRenderer.render) and MIME bytes
(message().as_bytes()), over the first 300 sample papers, 10 picks an email. No database,
no SMTP: run it with two checkouts alternately to compare them (issue #13's redesign).

    .venv/bin/python bench/email_render.py [--tree /tmp/before] [--emails 3000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

PICKS = 10
REASONS = [
    "matches 'agents'; trending: 77 upvotes",
    "in cs.CV",
    "matches 'video generation', 'diffusion'; you follow Ada Lovelace",
]


def _setup(tree: Path) -> tuple[object, list[str], list[object]]:
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from digest.editions.snapshot import paper_snapshot
    from digest.emails.digest import RunRenderer
    from digest.models import Paper
    from subscriptions.models import Subscriber

    items: dict[str, dict] = {}
    for path in sorted((tree / "digest" / "sample_data" / "hf_daily_papers").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            items.setdefault(item["paper"]["id"], item)
    papers = [_paper(Paper, item) for item in list(items.values())[:300]]
    snapshot = {p.arxiv_id: paper_snapshot(p) for p in papers}
    renderer = RunRenderer(
        run_id=1, edition_date=date(2026, 7, 1), frequency="daily", papers=snapshot
    )
    readers = [Subscriber(pk=i + 1, email=f"reader{i}@example.com") for i in range(200)]
    return renderer, list(snapshot), readers


def _paper(model: type, item: dict) -> object:
    p = item["paper"]
    org = p.get("organization")
    return model(
        arxiv_id=p["id"],
        title=p["title"],
        abstract=p.get("summary") or "",
        ai_summary=p.get("ai_summary") or "",
        authors=[a["name"] for a in p.get("authors", [])],
        organization=org.get("fullname", "") if isinstance(org, dict) else "",
        upvotes=p.get("upvotes", 0),
        github_repo=p.get("githubRepo") or "",
        github_stars=p.get("githubStars"),
        project_page=p.get("projectPage") or "",
        thumbnail_url=item.get("thumbnail") or "",
        sources=["hf_api"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    renderer, ids, readers = _setup(args.tree.resolve())
    render_us, mime_us, sizes = [], [], []
    for run in range(args.runs + 1):  # the first run warms up
        rendering = mime = 0.0
        for i in range(args.emails):
            picks = [
                {"arxiv_id": ids[(i * 7 + j * 13) % len(ids)], "reason": REASONS[(i + j) % 3]}
                for j in range(PICKS)
            ]
            t0 = time.process_time()
            message = renderer.message(  # type: ignore[attr-defined]
                delivery_id=i + 1, message_id=f"<d.{i}@x>", subscriber=readers[i % 200], picks=picks
            )
            t1 = time.process_time()
            raw = message.message().as_bytes()
            mime += time.process_time() - t1
            rendering += t1 - t0
            if run == 0 and i < 100:
                sizes.append(len(raw))
        if run:
            render_us.append(rendering / args.emails * 1e6)
            mime_us.append(mime / args.emails * 1e6)
    print(
        json.dumps(
            {
                "render_us": round(statistics.median(render_us), 1),
                "mime_us": round(statistics.median(mime_us), 1),
                "message_kb": round(statistics.mean(sizes) / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

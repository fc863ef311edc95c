"""`make report`: the staff report from the tracker store in use, as files in results/report/.

- `index.html`: one self-contained page (no CDN, charts as inline SVG); open it in a browser;
- `report.json`: everything on the page;
- `daily.csv`, `topics.csv`, `unanswered.csv`, `reviews.csv`: the tables, for a spreadsheet.
RANGE_DAYS (default 30) and REPORT_MIN_COUNT (default 2) shape it (see needlewise/report.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import sqlalchemy as sa

from needlewise import settings
from needlewise.knowledge import KnowledgeStore
from needlewise.report import build, count_rows
from needlewise.report_html import render
from tools.backup import shown, tracker_store_in_use

OUT = settings.ROOT / "results" / "report"


def write_csv(path: Path, rows: List[Dict[str, Any]], columns: List[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in row.items()})


def write(report: Dict[str, Any], out: Path) -> List[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "index.html": render(report),
        "report.json": json.dumps(report, indent=2, ensure_ascii=False),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    write_csv(out / "daily.csv", report["daily"], list(report["daily"][0]) if report["daily"] else ["date"])
    write_csv(
        out / "topics.csv", report["topics"], ["topic", "title", "asked", "helpful", "not_helpful", "helpful_rate"]
    )
    write_csv(
        out / "unanswered.csv",
        report["unanswered"]["shown"],
        ["question", "conversations", "times", "other_wordings"],
    )
    reviews = [
        {**row, "why": why} for why in ("older_than_a_year", "overdue", "drafts") for row in report["reviews"][why]
    ]
    write_csv(out / "reviews.csv", reviews, ["topic", "title", "why", "reviewed_on", "next_due"])
    return [out / name for name in (*files, "daily.csv", "topics.csv", "unanswered.csv", "reviews.csv")]


def main(argv: List[str] | None = None) -> int:
    values = settings.current()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=values.range_days)
    parser.add_argument("--min-count", type=int, default=values.report_min_count)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--store", default="", help="a tracker-store URL (default: the one in use)")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    url = args.store or tracker_store_in_use(values)
    started = time.monotonic()
    try:
        rows = count_rows(url, args.days)
        print(f"Reading {rows:,} events of the last {args.days:g} days from {shown(url)} ...", file=sys.stderr)
        with tqdm(total=rows, unit=" events", unit_scale=True, file=sys.stderr, disable=None) as bar:
            report = build(url, KnowledgeStore().get(), args.days, args.min_count, progress=bar.update)
    except sa.exc.OperationalError:
        print(
            f"Cannot read the conversations at {shown(url)}: is that database running? `make cluster` starts "
            "the cluster's PostgreSQL; TRACKER_STORE_URL names another.",
            file=sys.stderr,
        )
        return 1
    files = write(report, args.out)
    totals = report["totals"]
    print(
        f"{totals['conversations']} conversations, {totals['turns']} turns, {totals['unanswered']} not answered "
        f"({len(report['unanswered']['shown'])} questions shown) in {time.monotonic() - started:.1f} s."
    )
    print(
        "Wrote "
        + ", ".join(str(f.relative_to(settings.ROOT)) if f.is_relative_to(settings.ROOT) else str(f) for f in files)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make purge`: deletes conversations older than RETENTION_DAYS (kiosk ones after
KIOSK_RETENTION_MINUTES) from the tracker store in use: TRACKER_STORE_URL if set, else
`make cluster`'s PostgreSQL if this checkout has one, else the SQLite database."""

from __future__ import annotations

import sys

from needlewise.retention import Retention, purge_configured
from tools.backup import tracker_store_in_use


def main() -> int:
    retention = Retention.from_settings()
    deleted = purge_configured(tracker_store_in_use(), retention=retention)
    print(
        f"Deleted {deleted['conversations']} conversation(s) older than {retention.days:g} days"
        + (
            ""
            if retention.keep_kiosk
            else f" and {deleted['kiosk']} kiosk conversation(s) idle for {retention.kiosk_minutes:g} minutes"
        )
        + "."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

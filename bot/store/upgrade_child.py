"""`python -m bot.store.upgrade_child`: migrate the database named on stdin, then exit.

The service's first start runs this (`upgrade_apart`) so that Alembic and
the migration scripts are imported in a short-lived process, not in the
long-running one, where they would stay resident (~11 MB) for its lifetime.
The request is JSON on stdin (`{"url": …, "schema": …}`), not argv, so a
PostgreSQL password never shows in `ps`. Exit code 0 when the database is at
head; otherwise 2, with one line on stderr saying what is wrong (the parent
raises it as its StoreError).
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot.store.sql import upgrade


def main() -> int:
    """Migrate the database named on stdin; the exit code says whether it worked."""
    try:
        request = json.loads(sys.stdin.read())
        asyncio.run(upgrade(request["url"], schema=request.get("schema")))
    except Exception as exc:  # every failure becomes one line for the parent
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(message, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

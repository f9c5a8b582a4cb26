"""Stop with a clear message when the PostgreSQL server a test run needs is not there.

python scripts/require_postgres.py [URL]    (default: $DATABASE_URL_DEFAULT)
"""

import os
import sys

HOW = (
    "PostgreSQL is needed at {where} and is not reachable: {error}\n"
    "Install and start it, e.g. on Debian:\n"
    "  apt-get install postgresql-15 && pg_ctlcluster 15 main start\n"
    "(trust authentication for 127.0.0.1, user postgres). The SQLite test\n"
    "environments do not need it."
)


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL_DEFAULT"]
    try:
        import psycopg
    except ImportError:
        print("psycopg is missing: pip install -r requirements.txt", file=sys.stderr)
        return 2
    # Ask the server, not the database: the tests create their own databases.
    server = url.rsplit("/", 1)[0] + "/postgres"
    try:
        psycopg.connect(server, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        print(HOW.format(where=server, error=error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

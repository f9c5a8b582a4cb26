"""Databases of their own for commands run in other processes, as an operator
runs them: files in a temporary directory on SQLite, databases made for the
test on the test's PostgreSQL server otherwise (dropped at the end); shard n
on the n-th of SHARD_SERVERS if set (scripts/pg-sharding.sh: a server each)."""

import json
import os
import subprocess
import sys
import tempfile
import uuid

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

ALIASES = ["default", *(f"shard{n}" for n in range(8))]


class Scratch:
    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="multidb-scratch-")
        default = connections["default"].settings_dict
        self.postgresql = default["ENGINE"].endswith("postgresql")
        self.names = {
            alias: f"scratch_{uuid.uuid4().hex[:8]}_{alias}" for alias in ALIASES
        }
        self.env = {
            **os.environ,
            "SQLITE_DIR": self.dir.name,
            # Test-sized: the map re-read every 0.1 s, the grace above that.
            "SHARD_MAP_CHECK_SECONDS": "0.1",
            "SHARD_MAP_GRACE_SECONDS": "0.3",
        }
        if self.postgresql:
            server = "postgres://{USER}@{HOST}:{PORT}".format(**default)
            given = os.environ.get("SHARD_SERVERS", "").split(",")
            self.servers = {
                alias: (given[n] if n < len(given) else "") or server
                for n, alias in enumerate(ALIASES[1:])
            }
            self.servers["default"] = server
            for alias, name in self.names.items():
                url = f"{self.servers[alias]}/{name}"
                self.env[f"DATABASE_URL_{alias.upper()}"] = url
            self.on_servers("CREATE DATABASE {}")

    def on_servers(self, statement: str) -> None:
        """``statement`` for each scratch database, on its own server."""
        for alias, name in self.names.items():
            url = f"{self.servers[alias]}/postgres"
            with psycopg.connect(url, autocommit=True) as server:
                server.execute(sql.SQL(statement).format(sql.Identifier(name)))

    def close(self) -> None:
        if self.postgresql:
            self.on_servers("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self.dir.cleanup()

    def manage(self, *args: str, shards: int | None, drain: int = 0, **popen):
        """``manage.py args`` on ``shards`` shard databases; None: as many as
        the data has, as a site started without SHARD_DATABASES finds them."""
        told = {"SHARD_DATABASES": str(shards), "DRAIN_SHARD_DATABASES": str(drain)}
        env = {k: v for k, v in self.env.items() if k not in told}
        env["DJANGO_SETTINGS_MODULE"] = "project.settings"
        if shards is not None:
            env.update(told)
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
        )  # fmt: skip

    def finish(self, *args: str, shards: int | None, drain: int = 0) -> str:
        process = self.manage(*args, shards=shards, drain=drain)
        out, err = process.communicate(timeout=300)
        if process.returncode:
            raise AssertionError(f"{args} exited {process.returncode}:\n{out}{err}")
        return out + err

    def python(self, code: str, shards: int | None, drain: int = 0, **popen):
        """``code`` in a Django shell of the scratch databases."""
        return self.manage("shell", "-c", code, shards=shards, drain=drain, **popen)

    def state(self, shards: int | None, drain: int = 0) -> dict:
        """What every database holds, read by another process (tests/vdiff.py)."""
        return self.states("", shards, drain)[0]

    def states(self, command: str, shards: int | None, drain: int = 0) -> list[dict]:
        """What every database holds before and after ``manage.py command``
        (none: just now), in one process."""
        code = "from tests.vdiff import report; report()"
        if command:
            code += "; from django.core.management import call_command as run"
            code += f"; run({command!r}); report()"
        out, err = self.python(code, shards, drain).communicate(timeout=300)
        reports = [line for line in out.splitlines() if line.startswith("{")]
        assert reports, out + err
        self.output = out + err
        return [json.loads(line) for line in reports]

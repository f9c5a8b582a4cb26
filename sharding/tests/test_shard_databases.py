"""The shard databases come from the data, not from a variable that must match
it: a site restarted after `rebalance` finds the shard it added, `setup_demo
--flush` starts over on every shard there is, a drained shard stays reachable
but is given nothing, and a server started before the map changed answers a
page that says to restart it, not a 500."""

import os
import runpy
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F
from django.test import SimpleTestCase, TestCase

from project import shardmap
from project.models import ShardMap
from reviewsite.testing import make_product, make_review, on_sqlite_only

from .scratch import Scratch

SETTINGS = str(settings.BASE_DIR / "project/settings.py")


def shard_settings(directory: str, **environ: str) -> tuple[list, list, set]:
    """SHARDS, DRAINING_SHARDS and the aliases of DATABASES that settings.py
    gives a site whose SQLite files are in ``directory``."""
    told = ("SHARD_DATABASES", "DRAIN_SHARD_DATABASES", "DATABASE_URL_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(told)}
    with mock.patch.dict(
        os.environ, {**clean, "SQLITE_DIR": directory, **environ}, clear=True
    ):
        found = runpy.run_path(SETTINGS)
    return found["SHARDS"], found["DRAINING_SHARDS"], set(found["DATABASES"])


def files(directory: str, *names: str, mapped: tuple = ()) -> None:
    for name in names:
        Path(directory, name).touch()
    if mapped:
        with closing(sqlite3.connect(Path(directory, "default.sqlite3"))) as db:
            db.execute("CREATE TABLE project_shardmap (logical, alias, version)")
            db.executemany(
                "INSERT INTO project_shardmap VALUES (?, ?, 1)", enumerate(mapped)
            )
            db.commit()


def shards(*numbers: int) -> list[str]:
    return [f"shard{n}" for n in numbers]


class FromTheDataTests(SimpleTestCase):
    def setUp(self):
        self.dir = self.enterContext(tempfile.TemporaryDirectory())

    def test_a_new_site_has_four(self):
        self.assertEqual(shard_settings(self.dir)[:2], (shards(0, 1, 2, 3), []))

    def test_the_shards_the_map_names(self):
        files(
            self.dir,
            *(f"shard{n}.sqlite3" for n in range(5)),
            mapped=shards(*range(5)) * 3,
        )
        self.assertEqual(shard_settings(self.dir)[:2], (shards(0, 1, 2, 3, 4), []))

    def test_a_shard_file_the_map_does_not_name_is_reachable_but_given_nothing(self):
        files(
            self.dir,
            *(f"shard{n}.sqlite3" for n in range(5)),
            mapped=shards(0, 1, 2, 3),
        )
        spread, draining, databases = shard_settings(self.dir)
        self.assertEqual((spread, draining), (shards(0, 1, 2, 3), ["shard4"]))
        self.assertIn("shard4", databases)

    def test_before_there_is_a_map_the_shard_files(self):
        files(self.dir, *(f"shard{n}.sqlite3" for n in range(6)), "shard_notes.txt")
        self.assertEqual(shard_settings(self.dir)[:2], (shards(*range(6)), []))

    def test_shard_databases_says_what_to_spread_over(self):
        files(
            self.dir,
            *(f"shard{n}.sqlite3" for n in range(4)),
            mapped=shards(0, 1, 2, 3),
        )
        self.assertEqual(
            shard_settings(self.dir, SHARD_DATABASES="5")[:2], (shards(*range(5)), [])
        )
        self.assertEqual(
            shard_settings(self.dir, SHARD_DATABASES="3")[:2],
            (shards(0, 1, 2), ["shard3"]),
        )

    def test_on_postgresql_the_shards_whose_urls_are_set(self):
        files(self.dir, *(f"shard{n}.sqlite3" for n in range(6)), mapped=shards(0, 1))
        urls = {
            f"DATABASE_URL_SHARD{n}": f"postgres://u@h:{5441 + n}/shard{n}"
            for n in range(3)
        }
        spread, draining, databases = shard_settings(
            self.dir, DATABASE_URL_DEFAULT="postgres://u@h/default", **urls
        )
        self.assertEqual((spread, draining), (shards(0, 1, 2), []))
        self.assertEqual(databases, {"default", *shards(0, 1, 2)})


class FromTheDataEdgeTests(SimpleTestCase):
    """From the BREAK-IT review of the above."""

    def setUp(self):
        self.dir = self.enterContext(tempfile.TemporaryDirectory())

    def test_sqlite_shards_beside_a_default_on_postgresql_are_their_files(self):
        files(self.dir, *(f"shard{n}.sqlite3" for n in range(6)))
        found = shard_settings(self.dir, DATABASE_URL_DEFAULT="postgres://u@h/default")
        self.assertEqual(found[:2], (shards(*range(6)), []))

    def test_only_files_named_as_the_settings_name_them_are_shards(self):
        files(self.dir, "shard0.sqlite3", "shard04.sqlite3", "shard1.sqlite3-wal")
        self.assertEqual(shard_settings(self.dir)[:2], (shards(0), []))

    def test_shard_databases_must_be_a_positive_whole_number(self):
        for wrong in ["0", "-2", "abc", "1.5"]:
            with (
                self.subTest(wrong=wrong),
                self.assertRaisesMessage(ImproperlyConfigured, "SHARD_DATABASES"),
            ):
                shard_settings(self.dir, SHARD_DATABASES=wrong)

    def test_a_locked_map_is_waited_for_briefly_and_said(self):
        files(
            self.dir,
            *(f"shard{n}.sqlite3" for n in range(5)),
            mapped=shards(0, 1, 2, 3, 4),
        )
        with closing(sqlite3.connect(Path(self.dir, "default.sqlite3"))) as writer:
            writer.execute("BEGIN EXCLUSIVE")
            started = time.monotonic()
            with self.assertWarnsRegex(RuntimeWarning, "shard map"):
                found = shard_settings(self.dir)
            self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(found[:2], (shards(*range(5)), []))  # the files, then


class ServerBehindTheMapTests(TestCase):
    databases = "__all__"

    def setUp(self):
        self.addCleanup(shardmap.forget)

    def test_a_map_naming_a_shard_this_server_lacks_answers_a_page_saying_restart(self):
        make_review(make_product("Kettle"))
        ShardMap.objects.filter(logical=5).update(
            alias="shard9", version=F("version") + 1
        )
        shardmap.forget()
        for url in ["/", "/reviews/", "/shards/"]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertContains(response, "shard9", status_code=503)
                self.assertContains(response, "restart", status_code=503)


@on_sqlite_only
class AfterRebalanceTests(SimpleTestCase):
    """As the issue found it: `SHARD_DATABASES=5 manage.py rebalance`, then
    the site started again without the variable."""

    def setUp(self):
        self.scratch = Scratch()
        self.addCleanup(self.scratch.close)
        self.scratch.finish("setup_demo", "--reviews", "300", shards=4)
        self.scratch.finish("rebalance", shards=5)

    def test_a_restarted_site_finds_the_shard_rebalance_added(self):
        out = self.scratch.finish(
            "shell", "-c",
            "from django.conf import settings; from django.test import Client;"
            "from django.test.utils import setup_test_environment as testserver;"
            "testserver();"
            "from tests.vdiff import state;"
            "state = state();"
            "client = Client();"
            "print('SHARDS', settings.SHARDS);"
            "print('PAGES', sorted({client.get(f'/reviews/{i}/').status_code"
            " for i, *_ in state['reviews']}))",
            shards=None,
        )  # fmt: skip
        self.assertIn("SHARDS ['shard0', 'shard1', 'shard2', 'shard3', 'shard4']", out)
        self.assertIn("PAGES [200]", out)

    def test_setup_demo_flush_starts_over_on_every_shard(self):
        self.scratch.finish("setup_demo", "--flush", "--reviews", "200", shards=None)
        state = self.scratch.state(shards=None)
        self.assertEqual(len(state["reviews"]), 200)
        for _, logical, alias, _ in state["reviews"]:
            self.assertEqual(state["map"][str(logical)], alias)
        self.assertEqual(set(state["map"].values()), set(shards(*range(5))))

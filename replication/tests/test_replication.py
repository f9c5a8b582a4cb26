"""Replication end to end: copies, read-your-writes, lag, and failing replicas."""

import re
import shutil
import sqlite3
import threading
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

import time_machine
from django.core.management import call_command
from django.db import connections
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from project.management.commands.replicate import sqlite_file
from project.models import Heartbeat
from project.pinning import COOKIE
from project.replicas import health
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product, make_review

from .helpers import REPLICAS, ReplicatedTestCase, replicate, reviews_on


class ReplicateTests(ReplicatedTestCase):
    def test_replicate_copies_the_primary_into_every_replica(self):
        product = make_product()
        make_review(product, text="Copied")
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Copied"), 0)  # not yet
        replicate()
        for alias in REPLICAS:
            with self.subTest(alias=alias):
                self.assertEqual(reviews_on(alias, text="Copied"), 1)

    def test_replicate_one_replica_leaves_the_other_behind(self):
        make_review(make_product(), text="Only to replica2")
        replicate("--replica", "replica2")
        self.assertEqual(reviews_on("replica2", text="Only to replica2"), 1)
        self.assertEqual(reviews_on("replica1", text="Only to replica2"), 0)

    def test_replicas_are_consistent_while_the_primary_is_written(self):
        """Writers add reviews two at a time, in one transaction each: every
        copy holds an even number of them, and passes an integrity check."""
        product = make_product()
        stop = threading.Event()

        def writer():
            from django.db import transaction

            while not stop.is_set():
                with transaction.atomic():
                    make_review(product, text="pair")
                    make_review(product, text="pair")
            connections.close_all()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            counts = []
            for _ in range(15):
                replicate("--replica", "replica1")
                copy = sqlite3.connect(sqlite_file("replica1"))
                try:
                    ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
                    count = copy.execute(
                        "SELECT COUNT(*) FROM reviews_review WHERE text = 'pair'"
                    ).fetchone()[0]
                finally:
                    copy.close()
                self.assertEqual(ok, "ok")
                counts.append(count)
        finally:
            stop.set()
            thread.join(10)
        self.assertTrue(all(n % 2 == 0 for n in counts), counts)
        self.assertEqual(counts, sorted(counts))  # copies never go back in time
        self.assertGreater(counts[-1], 0)

    def test_a_corrupted_replica_is_replaced_by_the_next_copy(self):
        damage("replica2")
        make_review(make_product(), text="After the damage")
        replicate()
        self.assertEqual(reviews_on("replica2", text="After the damage"), 1)

    def test_a_replica_is_a_whole_file_with_no_wal_of_its_own(self):
        """Replicas are renamed into place: rollback-journal files, nothing beside."""
        replicate()
        for alias in REPLICAS:
            path = sqlite_file(alias)
            with self.subTest(alias=alias):
                copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    mode = copy.execute("PRAGMA journal_mode").fetchone()[0]
                finally:
                    copy.close()
                self.assertEqual(mode, "delete")
                for sidecar in ["-wal", "-shm", "-journal", "-next"]:
                    self.assertFalse(path.with_name(path.name + sidecar).exists())

    def test_a_copy_left_by_a_killed_run_is_thrown_away(self):
        path = sqlite_file("replica1")
        left = [path.with_name(path.name + s) for s in ["-next", "-next-journal"]]
        for each in left:
            each.write_bytes(b"half a copy" * 100)
        make_review(make_product(), text="After the kill")
        replicate()
        self.assertEqual(reviews_on("replica1", text="After the kill"), 1)
        for each in left:
            self.assertFalse(each.exists(), each)

    def test_a_reader_mid_transaction_keeps_its_whole_copy(self):
        """A copy never changes under a reader: it sees the next one when it
        starts again."""
        path = sqlite_file("replica1")
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        count = "SELECT COUNT(*) FROM reviews_review"
        try:
            reader.execute("BEGIN")
            before = reader.execute(count).fetchone()[0]
            make_review(make_product(), text="Written meanwhile")
            replicate()
            self.assertEqual(reader.execute(count).fetchone()[0], before)
            self.assertEqual(reader.execute("PRAGMA quick_check").fetchone()[0], "ok")
            reader.execute("COMMIT")
        finally:
            reader.close()
        self.assertEqual(reviews_on("replica1"), before + 1)

    def test_two_replicates_at_once_take_turns(self):
        make_review(make_product(), text="Copied twice")
        errors = []

        def run():
            try:
                replicate()
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Copied twice"), 1)

    def test_replicate_refuses_bad_input(self):
        from django.core.management import CommandError

        for args in [["--interval", "0"], ["--interval", "x"], ["--replica", "nope"]]:
            with self.subTest(args=args), self.assertRaises(CommandError):
                replicate(*args)


class TwoClientsTests(ReplicatedTestCase):
    """The talk's story: Alice writes and sees her review at once; Bob sees it
    once replication has caught up."""

    def setUp(self):
        super().setUp()
        self.product = make_product()
        replicate()
        self.url = reverse("product", args=[self.product.pk])
        self.alice, self.bob = Client(), Client()

    def write(self, client, text):
        write = reverse("write_review", args=[self.product.pk])
        response = client.post(write, {"text": text, "rating": "5"})
        self.assertEqual(response.status_code, 302)

    def test_writer_sees_her_review_at_once_others_after_replication(self):
        self.write(self.alice, "Alice was here")
        with time_machine.travel(timezone.now(), tick=False):
            self.assertNotContains(self.bob.get(self.url), "Alice was here")
            with (  # the replicas' positions were read for Bob's page
                self.assertNumQueries(0, using="replica1"),
                self.assertNumQueries(0, using="replica2"),
            ):
                self.assertContains(self.alice.get(self.url), "Alice was here")
        replicate()
        self.assertContains(self.bob.get(self.url), "Alice was here")

    def test_logging_in_does_not_pin_but_the_user_is_still_read_fresh(self):
        """A login writes the session and last_login: tables every client reads
        from the primary anyway. Its pages read a replica, with no "You just
        wrote" banner; who is logged in is still decided on the primary."""
        from django.contrib.auth import get_user_model

        User = get_user_model()
        User.objects.create_user("carol", password="pw")
        replicate()
        login = {"username": "carol", "password": "pw"}
        self.assertEqual(self.alice.post(reverse("login"), login).status_code, 302)
        self.assertNotIn(COOKIE, self.alice.cookies)
        with self.assertNumQueries(2, using="default"):  # her session, her user
            page = self.alice.get(self.url)
        self.assertIn(page.context["reads_from"], REPLICAS)
        self.assertContains(page, "Log out carol")
        self.assertNotContains(page, "You just wrote")
        # Deactivated on the primary only (no replicate): she is logged out.
        User.objects.filter(username="carol").update(is_active=False)
        self.assertContains(self.alice.get(self.url), "Log in")
        # Logging out (the session deleted) does not pin either.
        User.objects.filter(username="carol").update(is_active=True)
        self.alice.post(reverse("login"), login)
        self.alice.post(reverse("logout"))
        self.assertNotIn(COOKIE, self.alice.cookies)

    def test_a_write_of_content_after_logging_in_pins(self):
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user("carol", password="pw")
        replicate()
        self.alice.post(reverse("login"), {"username": "carol", "password": "pw"})
        self.write(self.alice, "Carol was here")
        self.assertIn(COOKIE, self.alice.cookies)
        page = self.alice.get(self.url)
        self.assertContains(page, "Carol was here")
        self.assertContains(page, "You just wrote")

    def test_reading_does_not_pin(self):
        self.bob.get(self.url)
        self.assertNotIn(COOKIE, self.bob.cookies)

    def test_a_forged_pin_cookie_is_ignored(self):
        self.write(self.alice, "Forged")
        self.bob.cookies[COOKIE] = "9999999999"
        self.assertNotContains(self.bob.get(self.url), "Forged")

    def test_admin_reads_and_writes_the_primary(self):
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_superuser("boss", "b@x.org", "pw")
        replicate()
        self.alice.force_login(get_user_model().objects.get(username="boss"))
        change = reverse("admin:products_product_change", args=[self.product.pk])
        form = {"name": "Renamed", "price": "3.00", "description": "",
                "created_0": "2026-01-01", "created_1": "10:00:00"}  # fmt: skip
        self.assertEqual(self.alice.post(change, form).status_code, 302)
        listing = self.alice.get(reverse("admin:products_product_changelist"))
        self.assertContains(listing, "Renamed")
        # Bob, staff too, has written nothing (no pin): the admin reads the
        # primary all the same, so he sees Alice's edit before replication.
        self.bob.force_login(get_user_model().objects.get(username="boss"))
        with (
            self.assertNumQueries(0, using="replica1"),
            self.assertNumQueries(0, using="replica2"),
        ):
            listing = self.bob.get(reverse("admin:products_product_changelist"))
        self.assertContains(listing, "Renamed")


class ReadYourWritesTests(ReplicatedTestCase):
    """What pins a client, and what a request that wrote reads afterwards."""

    def respond(self, view, method="get", cookies=None):
        from django.test import RequestFactory

        from project.pinning import ReadYourWritesMiddleware

        request = getattr(RequestFactory(), method)("/anything/")
        request.COOKIES.update(cookies or {})
        return ReadYourWritesMiddleware(view)(request)

    def test_a_get_that_writes_pins_the_client(self):
        def counts_a_visit(request):
            make_product("Written on a GET")
            return HttpResponse()

        self.assertIn(COOKIE, self.respond(counts_a_visit).cookies)

    def test_a_write_to_sessions_and_users_only_does_not_pin(self):
        from django.contrib.auth import get_user_model
        from django.contrib.sessions.backends.db import SessionStore

        def signs_up(request):
            get_user_model().objects.create_user("dora")
            SessionStore().create()
            return HttpResponse()

        self.assertNotIn(COOKIE, self.respond(signs_up).cookies)

    def test_a_statement_whose_table_is_not_known_pins(self):
        def writes_raw_sql(request):
            with connections["default"].cursor() as cursor:
                cursor.execute("update auth_user set first_name = 'x'")
                cursor.execute("UPDATE 'django_session' SET expire_date = expire_date")
            return HttpResponse()

        self.assertIn(COOKIE, self.respond(writes_raw_sql).cookies)

    def test_a_post_that_writes_nothing_does_not_pin(self):
        def rejects_the_form(request):
            list(Review.objects.all())
            return HttpResponse(status=400)

        response = self.respond(rejects_the_form, method="post")
        self.assertNotIn(COOKIE, response.cookies)

    def test_a_read_after_a_write_in_the_same_request_sees_the_write(self):
        def writes_then_reads(request):
            review = make_review(make_product(), text="Just now")
            found = Review.objects.filter(pk=review.pk)
            return HttpResponse(f"{found.exists()} {found.db}")

        self.assertEqual(self.respond(writes_then_reads).content, b"True default")

    def test_concurrent_requests_keep_their_own_pins(self):
        """Two threads in the middleware at once, one pinned: neither leaks."""
        cookie = (
            self.respond(lambda request: HttpResponse(make_product()))
            .cookies[COOKIE]
            .value
        )
        both_inside = threading.Barrier(2, timeout=10)
        seen = {}

        def view(request):
            both_inside.wait()  # the other request is in the middleware too
            seen[request.COOKIES.get(COOKIE)] = Review.objects.db
            return HttpResponse()

        threads = [
            threading.Thread(
                target=self.respond, args=(view,),
                kwargs={"cookies": {COOKIE: value} if value else {}},
            )
            for value in [cookie, None]
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        self.assertEqual(seen[cookie], "default")
        self.assertIn(seen[None], REPLICAS)

    def test_a_wrong_query_is_the_views_error_not_an_outage(self):
        from django.db import IntegrityError
        from django.test import RequestFactory

        from project.pinning import ReadYourWritesMiddleware

        answers = []

        def duplicates_a_key(request):
            product = make_product()
            try:
                make_product(pk=product.pk)  # no database is down for this
            except IntegrityError as error:
                answers.append(middleware.process_exception(request, error))
            return HttpResponse()

        middleware = ReadYourWritesMiddleware(duplicates_a_key)
        middleware(RequestFactory().get("/anything/"))
        self.assertEqual(answers, [None])  # no retry, no 503: the view decides
        self.assertTrue(all(health(alias).usable for alias in REPLICAS))


class LagTests(ReplicatedTestCase):
    def test_a_replica_lagging_past_the_limit_is_skipped(self):
        product = make_product()
        replicate()
        url = reverse("product", args=[product.pk])
        with override_settings(REPLICATION_MAX_LAG_SECONDS=30):
            with (
                time_machine.travel(timezone.now() + timedelta(seconds=10)),
                self.assertNumQueries(0, using="default"),
            ):
                self.assertEqual(Client().get(url).status_code, 200)
            with time_machine.travel(timezone.now() + timedelta(seconds=60)):
                with (
                    self.assertNumQueries(1, using="replica1"),  # heartbeat only
                    self.assertNumQueries(1, using="replica2"),
                ):
                    response = Client().get(url)
                self.assertContains(response, "No replica is usable")

    def test_dbstatus_reports_each_replicas_lag(self):
        replicate()
        out = StringIO()
        with time_machine.travel(timezone.now() + timedelta(seconds=120)):
            call_command("dbstatus", stdout=out)
        self.assertIn("replica1   lag", out.getvalue())
        self.assertIn("skipped: over 60 s behind", out.getvalue())

    def test_heartbeat_is_written_on_the_primary_only_then_copied(self):
        self.assertTrue(Heartbeat.objects.using("default").exists())
        before = Heartbeat.objects.using("replica1").get().beat
        with time_machine.travel(timezone.now() + timedelta(seconds=5)):
            replicate()
        self.assertGreater(Heartbeat.objects.using("replica1").get().beat, before)


class FailingReplicaTests(ReplicatedTestCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(self.mend)
        self.product = make_product()
        make_review(self.product, text="Still readable")
        replicate()
        self.url = reverse("product", args=[self.product.pk])

    def mend(self):
        """A fresh copy mends whatever a test broke; reconnect to it."""
        replicate()
        for alias in REPLICAS:
            connections[alias].close()

    def remove(self, alias) -> Path:
        connections[alias].close()
        path = sqlite_file(alias)
        for file in [path, *path.parent.glob(path.name + "-*")]:
            file.unlink(missing_ok=True)
        return path

    def test_a_removed_replica_is_skipped_and_pages_keep_working(self):
        self.remove("replica1")
        for _ in range(4):
            with self.assertNumQueries(0, using="default"):
                self.assertContains(Client().get(self.url), "Still readable")
        status = Client().get(reverse("replication_status"))
        self.assertContains(status, "down")
        self.assertContains(status, "unable to open database file")

    def test_a_down_replica_shows_since_when_and_its_next_try_not_its_old_lag(self):
        start = timezone.now()

        def row(alias: str) -> str:
            """The replica's row of /status/, as text."""
            page = Client().get(reverse("replication_status")).content.decode()
            cells = re.search(rf"<td>{alias}</td>(.*?)</tr>", page, re.S)[1]
            return " ".join(re.sub(r"<[^>]+>", " ", cells).split())

        def down(since: int, retry: int, wait: int) -> str:
            at = [
                (start + timedelta(seconds=s)).strftime("%H:%M:%S")
                for s in (since, retry)
            ]
            return f"since {at[0]}, tried again from {at[1]} (in {wait} s)"

        with time_machine.travel(start + timedelta(seconds=30), tick=False):
            self.assertRegex(row("replica1"), r"^30\.\d s \d+ in use")
        self.remove("replica1")
        with (
            time_machine.travel(start + timedelta(seconds=40), tick=False),
            self.assertLogs("project.replicas", "WARNING"),
        ):
            self.assertEqual(
                row("replica1"),
                f"- - down {down(40, 50, 10)} "
                "OperationalError: unable to open database file",
            )
            self.assertIsNone(health("replica1").lag)
        with (
            time_machine.travel(start + timedelta(seconds=45), tick=False),
            self.assertNoLogs("project.replicas", "WARNING"),  # not tried before
        ):
            self.assertIn(f"down {down(40, 50, 5)}", row("replica1"))
            out = StringIO()
            call_command("dbstatus", stdout=out)
            self.assertRegex(out.getvalue(), r"replica1 +lag +- +position +- +DOWN ")
            self.assertIn(f"DOWN {down(40, 50, 5)}", out.getvalue())
        with (
            time_machine.travel(start + timedelta(seconds=51), tick=False),
            self.assertLogs("project.replicas", "WARNING"),  # tried: still down
        ):
            self.assertIn(f"down {down(40, 61, 10)}", row("replica1"))
        self.assertRegex(row("replica2"), r"^\d+\.\d s \d+ in use")

    def test_with_every_replica_gone_reads_go_to_the_primary(self):
        self.remove("replica1")
        self.remove("replica2")
        with self.assertLogs("project.replicas", "WARNING"):
            self.assertContains(Client().get(self.url), "Still readable")

    def test_a_replica_failing_mid_request_is_retried_elsewhere(self):
        """replica1 passed its health check a moment ago, then breaks: the
        page's query fails there and the page is read again from replica2."""
        with (
            mock.patch("random.choice", lambda choices: choices[0]),
            time_machine.travel(timezone.now(), tick=False),  # no re-check between
        ):
            self.assertEqual(Client().get(self.url).status_code, 200)  # checked
            damage("replica1")
            with (
                self.assertLogs("project", "WARNING") as logs,
                self.assertNumQueries(0, using="default"),
            ):
                response = Client().get(self.url)
        self.assertContains(response, "Still readable")
        self.assertIn("retrying on replica2", "\n".join(logs.output))

    def test_the_replica_is_used_again_after_it_comes_back(self):
        self.remove("replica1")
        self.remove("replica2")
        Client().get(self.url)  # both marked down
        replicate()
        with (
            time_machine.travel(timezone.now() + timedelta(seconds=11)),
            self.assertNumQueries(0, using="default"),
        ):
            Client().get(self.url)

    def test_writes_answer_503_when_the_primary_is_unavailable(self):
        with damaged_primary():
            response = Client().post(
                reverse("write_review", args=[self.product.pk]),
                {"text": "Lost?", "rating": "2"},
            )
        self.assertContains(response, "Writing is unavailable", status_code=503)
        self.assertEqual(response["Retry-After"], "30")
        self.assertEqual(reviews_on("default", text="Lost?"), 0)

    def test_a_replica_failing_before_a_write_is_retried_for_a_post_too(self):
        """The review form reads the product (on the replica) before it writes."""
        with (
            mock.patch("random.choice", lambda choices: choices[0]),
            time_machine.travel(timezone.now(), tick=False),
        ):
            self.assertEqual(Client().get(self.url).status_code, 200)  # checked
            damage("replica1")
            response = Client().post(
                reverse("write_review", args=[self.product.pk]),
                {"text": "Written despite replica1", "rating": "3"},
            )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(reviews_on("default", text="Written despite replica1"), 1)

    def test_a_logged_in_reader_gets_the_503_page_not_a_500(self):
        """Sessions live on the primary: without it, no logged-in page renders."""
        from django.contrib.auth import get_user_model

        reader = Client()
        reader.force_login(get_user_model().objects.create_user("reader"))
        with damaged_primary():
            response = reader.get(self.url)
        self.assertContains(response, "Writing is unavailable", status_code=503)
        self.assertContains(response, "Log in", status_code=503)

    def test_a_corrupted_primary_leaves_the_replicas_as_they_were(self):
        from django.core.management import CommandError

        with damaged_primary(), self.assertRaises(CommandError):
            replicate()
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Still readable"), 1)

    def test_a_primary_damaged_past_its_first_page_is_not_copied(self):
        from django.core.management import CommandError

        with connections["default"].cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        primary = sqlite_file("default")
        connections["default"].close()
        saved = primary.read_bytes()
        try:
            damaged = bytearray(saved)
            damaged[4096 * 2 : 4096 * 6] = b"\xff" * (4096 * 4)  # pages 3 to 6
            primary.write_bytes(bytes(damaged))
            with self.assertRaisesMessage(CommandError, "Not replicated"):
                replicate()
        finally:
            connections["default"].close()
            primary.write_bytes(saved)
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Still readable"), 1)

    def test_follow_outlives_a_round_that_failed(self):
        """replicate --follow: a round fails (primary damaged), the next copies."""
        make_review(self.product, text="Copied by the second round")
        with connections["default"].cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the file
        primary = sqlite_file("default")
        connections["default"].close()
        saved = primary.read_bytes()
        damage("default")

        def between_rounds(seconds):
            if between_rounds.calls:
                raise KeyboardInterrupt  # stop following after round two
            between_rounds.calls += 1
            connections["default"].close()
            primary.write_bytes(saved)  # the primary is back

        between_rounds.calls = 0
        err = StringIO()
        with mock.patch("time.sleep", between_rounds):
            call_command("replicate", "--follow", stdout=StringIO(), stderr=err)
        self.assertIn("Not replicated this round", err.getvalue())
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Copied by the second round"), 1)

    def test_follow_outlives_a_full_disk(self):
        make_review(self.product, text="Copied once there is room")
        rounds = []
        real = shutil.copyfile

        def full_first_time(*args, **kwargs):
            rounds.append(1)
            if len(rounds) == 1:
                raise OSError(28, "No space left on device")
            return real(*args, **kwargs)

        def between_rounds(seconds):
            if len(rounds) > 1:
                raise KeyboardInterrupt

        err = StringIO()
        with (
            mock.patch("shutil.copyfile", full_first_time),
            mock.patch("time.sleep", between_rounds),
        ):
            call_command("replicate", "--follow", stdout=StringIO(), stderr=err)
        self.assertIn("No space left on device", err.getvalue())
        for alias in REPLICAS:
            self.assertEqual(reviews_on(alias, text="Copied once there is room"), 1)

    def test_reads_survive_the_primary_being_unavailable(self):
        with damaged_primary():
            response = Client().get(self.url)
        self.assertContains(response, "Still readable")


@contextmanager
def damaged_primary():
    """The primary's file overwritten for the block, then put back as it was."""
    with connections["default"].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the file
    primary = sqlite_file("default")
    connections["default"].close()
    saved = primary.read_bytes()
    try:
        damage("default")
        yield primary
    finally:
        connections["default"].close()
        primary.write_bytes(saved)


def damage(alias: str) -> None:
    """Overwrite the database file of ``alias`` with bytes that are no database."""
    connections[alias].close()
    path = sqlite_file(alias)
    for sidecar in path.parent.glob(path.name + "-*"):
        sidecar.unlink()
    path.write_bytes(b"not a database" * 512)

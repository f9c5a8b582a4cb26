"""Fresh reads at their edges, each found by trying to break them: other
execute wrappers, a primary that fails for one query, two tabs of one browser,
streamed bodies, read-only transactions, async generators, a cursor still open
when a new copy arrives."""

import asyncio
import threading

from django.contrib.auth import get_user_model
from django.db import OperationalError, connections, transaction
from django.http import StreamingHttpResponse
from django.test import Client, SimpleTestCase, override_settings
from django.urls import path, reverse

from project import pinning, replicas
from project.pinning import COOKIE, read_from_primary, use_primary
from project.urls import urlpatterns as site
from reviewsite.products.models import Product
from reviewsite.reviews.models import Review
from reviewsite.testing import make_product

from .helpers import REPLICAS, ReplicatedTestCase, replicate

User = get_user_model()


# The activity panel (first middleware) wraps every connection with
# connection.execute_wrapper() for one request, which pop()s the LAST wrapper on
# exit. When a thread's first request creates the connection inside that block,
# connection_created appends `watch` after the panel's wrapper, and the pop
# removes `watch` instead: the panel's dead wrapper stays, `watch` is gone.
# With a kept connection (CONN_MAX_AGE>0: the PostgreSQL settings use 60) every
# later request of that worker writes unnoticed: no cookie, stale own writes.


def in_new_thread(func):
    """Like a server's worker thread: its first request opens its connections."""
    out = {}

    def run():
        try:
            out["value"] = func()
        except BaseException as error:
            out["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


class WatchPoppedTests(ReplicatedTestCase):
    def test_the_writer_of_a_workers_second_request_reads_her_write(self):
        product = make_product()
        replicate()

        def worker():
            alice = Client()
            # This worker's first request opens its connection to the primary.
            alice.post(
                reverse("write_review", args=[product.pk]),
                {"text": "First", "rating": "4"},
            )
            replicate()  # a round of `replicate --follow`: replicas hold "First"
            replicas.forget()  # (or wait REPLICA_CHECK_SECONDS)
            response = alice.post(
                reverse("write_review", args=[product.pk]),
                {"text": "Alice wrote this", "rating": "5"},
            )
            page = alice.get(reverse("product", args=[product.pk]))
            return response, page

        response, page = in_new_thread(worker)
        self.assertEqual(response.status_code, 302)
        self.assertNotEqual(response.cookies[COOKIE].value, "")  # was: deleted
        self.assertContains(page, "Alice wrote this")  # was: replica1, absent

    def test_dead_panel_wrappers_do_not_pile_up(self):
        def worker():
            for _ in range(5):
                Client().get(reverse("products"))
                connections[
                    "replica1"
                ].close()  # CONN_MAX_AGE=0: closed after each request
                connections["replica2"].close()
            return len(connections["replica1"].execute_wrappers)

        self.assertLessEqual(in_new_thread(worker), 1)  # was: 5


# After one failed query on the primary, a GET is run again with
# primary_down=True, and the router then reads auth from a replica: also for a
# visitor WITH a session (the session itself is read again from the primary,
# which answers again after a blip: "database is locked", a dropped connection,
# a failover). A deactivated user, or a stolen session whose password was
# changed, is then authenticated from the replica's stale row.


User = get_user_model()


class Blip:
    """The primary fails its first query, then answers again."""

    def __init__(self):
        self.failed = False

    def __call__(self, execute, sql, params, many, context):
        if not self.failed:
            self.failed = True
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)


class RetryAuthTests(ReplicatedTestCase):
    def setUp(self):
        super().setUp()
        self.alice = User.objects.create_user("alice", "a@example.org", "old-pw")
        replicate()  # the replicas know alice: active, old password

    def get_during_a_blip(self, client, url=None):
        """A page of a visitor with a session while the primary fails once: not
        read again from a replica (its user would come from a stale row), a 503."""
        connections["default"].ensure_connection()
        with connections["default"].execute_wrapper(Blip()):
            page = client.get(url or reverse("products"))
        self.assertContains(page, "Writing is unavailable", status_code=503)
        return page.context[-1]["user"]

    def test_a_deactivated_user_is_not_logged_in_by_the_retry(self):
        client = Client()
        client.login(username="alice", password="old-pw")
        User.objects.filter(pk=self.alice.pk).update(is_active=False)  # primary only
        user = self.get_during_a_blip(client)
        self.assertFalse(user.is_authenticated)  # was: True (alice, from replica1)

    def test_a_stolen_session_dies_when_the_password_changes(self):
        thief = Client()
        thief.login(username="alice", password="old-pw")
        self.alice.set_password("new-pw")  # alice locks the thief out
        self.alice.save()  # the replicas still hold the old hash
        # (Without the blip the thief's next page logs him out: the hash differs.)
        user = self.get_during_a_blip(thief)
        self.assertFalse(user.is_authenticated)  # was: True (old hash on the replica)

    def test_the_admin_is_not_opened_to_a_demoted_user_from_a_replica(self):
        boss = User.objects.create_superuser("boss", "b@example.org", "pw")
        replicate()
        staff = Client()
        staff.force_login(boss)
        User.objects.filter(pk=boss.pk).update(is_staff=False, is_superuser=False)
        self.assertEqual(staff.get("/admin/").status_code, 302)  # to the login page
        self.assertFalse(self.get_during_a_blip(staff, "/admin/").is_authenticated)


# Two requests of one browser in flight at once (two tabs, a page's XHR): a
# GET that started with an old, reached position must not answer "delete the
# cookie": if that answer arrives after a POST's newer position, the browser
# would drop it, and the writer's next page come from a replica without her write.


class CookieRaceTests(ReplicatedTestCase):
    def test_a_late_get_does_not_unpin_a_write_made_meanwhile(self):
        product = make_product()
        replicate()
        alice = Client()
        write = reverse("write_review", args=[product.pk])
        alice.post(write, {"text": "First", "rating": "4"})
        replicate()
        replicas.forget()  # (or wait REPLICA_CHECK_SECONDS)
        # Tab 1 sends a GET with the cookie it has (First, now on the replicas)...
        tab1 = Client()
        tab1.cookies = alice.cookies.__class__(alice.cookies)
        late = tab1.get(reverse("products"))
        self.assertNotIn(COOKIE, late.cookies)  # it reads, and says nothing
        # ...tab 2's POST is answered first...
        alice.post(write, {"text": "Second", "rating": "5"})
        # ...then the GET's answer arrives, and the browser applies it.
        alice.cookies.update(late.cookies)
        page = alice.get(reverse("product", args=[product.pk]))
        self.assertContains(page, "Second")  # was: a replica without it


# A streamed body (StreamingHttpResponse, FileResponse, a CSV export) is read
# by the server after the middleware returned and reset the request's state:
# its reads follow no pin and no primary_only (POST, /admin/).


def export(request):
    """Every review's text, one line each, streamed."""

    def lines():
        for review in Review.objects.order_by("pk"):
            yield review.text + "\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")


urlpatterns = [path("export/", export, name="export"), *site]


@override_settings(ROOT_URLCONF=__name__)
class StreamingTests(ReplicatedTestCase):
    def test_a_streamed_page_reads_the_writers_write(self):
        product = make_product()
        replicate()
        alice = Client()
        alice.post(
            reverse("write_review", args=[product.pk]),
            {"text": "Alice wrote this", "rating": "5"},
        )
        self.assertIn(COOKIE, alice.cookies)
        body = b"".join(alice.get(reverse("export")).streaming_content)
        self.assertIn(b"Alice wrote this", body)  # was: b"" (a replica)

    def test_a_streamed_post_reads_the_primary(self):
        product = make_product()
        replicate()
        Review.objects.create(product_id=product.pk, text="On the primary only")
        pinning._reads.set(None)  # that write was another client's, not this test's
        body = b"".join(Client().post(reverse("export")).streaming_content)
        self.assertIn(b"On the primary only", body)  # was: b""


# `watch` is meant to treat SAVEPOINT (and other non-writes) as reads, but it
# looks at sql.lstrip()[:8]: 'SAVEPOIN' never starts with 'SAVEPOINT'. SQLite's
# BEGIN (every atomic() on the primary) also counts as a write. A read-only
# atomic() therefore pins its context/request to the primary, sets the cookie,
# and makes a GET that failed on the primary not retried.


class Classification(SimpleTestCase):
    def test_a_savepoint_is_not_a_write(self):
        token = pinning._reads.set(None)
        try:
            context = {"connection": connections["default"]}
            pinning.watch(lambda *a: None, 'SAVEPOINT "s1_x1"', None, False, context)
            self.assertIsNone(pinning._reads.get())  # was: Reads(wrote=True)
        finally:
            pinning._reads.reset(token)


class ReadOnlyTransactionTests(ReplicatedTestCase):
    def test_a_read_only_transaction_does_not_pin(self):
        with transaction.atomic(), transaction.atomic():  # a savepoint, nested
            Product.objects.count()
        self.assertIn(Product.objects.all().db, REPLICAS)  # was: 'default'


# use_primary() as a decorator: 'sync or async, or the body of a generator'.
# An async generator function (an async StreamingHttpResponse body) is none of
# the cases it checks: ContextDecorator wraps the call, which only creates the
# async generator, and its body runs outside the block.


class AsyncGeneratorTests(SimpleTestCase):
    def test_use_primary_covers_the_body_of_an_async_generator(self):
        @use_primary()
        async def rows():
            yield read_from_primary()

        async def consume():
            return [inside async for inside in rows()]

        self.assertEqual(asyncio.run(consume()), [True])  # was: [False]


# reviewsite.copies.sqlite3 closes a replica's connection at the next query
# after a new copy was renamed over the file, even while a chunked .iterator()
# on that connection is still being read: the loop dies when `replicate` runs.
# (Django's own CONN_HEALTH_CHECKS look once per request, before any cursor.)


class LiveCursorTests(ReplicatedTestCase):
    def test_an_iterator_on_a_replica_survives_a_new_copy(self):
        for n in range(6):
            make_product(f"P{n}")
        replicate()
        names = []
        products = Product.objects.using("replica1").order_by("pk")
        for product in products.iterator(chunk_size=2):
            names.append(product.name)
            if len(names) == 1:
                make_product("Later")
                replicate()  # a round of `replicate --follow`, mid-loop
            # any other query on the replica inside the loop (a lookup, a count)
            Product.objects.using("replica1").filter(pk=product.pk).exists()
        # was: ProgrammingError: Cannot operate on a closed database.
        self.assertEqual(names, [f"P{n}" for n in range(6)])

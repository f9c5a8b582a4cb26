"""use_primary nests and restores; state is private to each thread and task."""

import asyncio
import threading

from django.test import SimpleTestCase

from project.pinning import _use_primary, read_from_primary, use_primary


class UsePrimaryTests(SimpleTestCase):
    def test_nested_blocks_restore_the_state_they_found(self):
        self.assertFalse(read_from_primary())
        with use_primary():
            with use_primary():
                self.assertTrue(read_from_primary())
            self.assertTrue(read_from_primary())  # the outer block still holds
        self.assertFalse(read_from_primary())

    def test_state_is_restored_after_an_exception(self):
        with self.assertRaises(ZeroDivisionError), use_primary():
            1 / 0  # noqa: B018
        self.assertFalse(read_from_primary())

    def test_decorator_on_a_recursive_function(self):
        seen = []

        @use_primary()
        def visit(depth):
            seen.append(read_from_primary())
            if depth:
                visit(depth - 1)

        visit(3)
        self.assertEqual(seen, [True] * 4)
        self.assertFalse(read_from_primary())

    def test_decorator_on_a_coroutine_function(self):
        @use_primary()
        async def view():
            await asyncio.sleep(0)
            return read_from_primary()

        self.assertTrue(asyncio.run(view()))
        self.assertFalse(read_from_primary())

    def test_concurrent_tasks_do_not_share_state(self):
        async def pinned(started, release):
            with use_primary():
                started.set()
                await release.wait()
                return read_from_primary()

        async def unpinned(started, release):
            await started.wait()
            inside = read_from_primary()  # while the other task is pinned
            release.set()
            return inside

        async def both():
            started, release = asyncio.Event(), asyncio.Event()
            return await asyncio.gather(
                pinned(started, release), unpinned(started, release)
            )

        self.assertEqual(asyncio.run(both()), [True, False])

    def test_threads_do_not_share_state(self):
        entered, release = threading.Event(), threading.Event()
        seen = {}

        def pinned():
            with use_primary():
                entered.set()
                release.wait(5)
                seen["pinned"] = read_from_primary()

        thread = threading.Thread(target=pinned)
        thread.start()
        entered.wait(5)
        seen["other"] = read_from_primary()
        release.set()
        thread.join(5)
        self.assertEqual(seen, {"pinned": True, "other": False})
        self.assertFalse(_use_primary.get())

    def test_one_instance_serves_concurrent_tasks(self):
        """A shared instance (a decorator, a module-level block) keeps each
        task's own state, however their blocks interleave."""
        shared = use_primary()

        async def interleaved():
            one_in, two_in, one_out = asyncio.Event(), asyncio.Event(), asyncio.Event()

            async def one():
                with shared:
                    one_in.set()
                    await two_in.wait()
                one_out.set()  # one leaves first, while two is still inside
                return read_from_primary()

            async def two():
                await one_in.wait()
                with shared:
                    two_in.set()
                    await one_out.wait()
                    return read_from_primary()

            return await asyncio.gather(one(), two())

        self.assertEqual(asyncio.run(interleaved()), [False, True])
        self.assertFalse(read_from_primary())

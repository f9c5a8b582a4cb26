"""The memo of hidden rows, shared by a server's threads."""

import sys
import threading
from unittest import mock

from project import hidden_rows as memo


class FakeQuery:
    def __init__(self, n):
        self.query = self
        self.n = n

    def sql_with_params(self):
        return "SELECT %s", (self.n,)

    def __iter__(self):
        return iter([])


class FakeMatching:
    model = None

    def __init__(self, n):
        self.n = n

    def filter(self, **kwargs):
        return self

    def order_by(self, *args):
        return self

    def values_list(self, *args, **kwargs):
        return FakeQuery(self.n)


def test_the_memo_evicts_safely_from_many_threads():
    """Threads of one server process share HIDDEN: two of them evict the same
    oldest key, and the second one's `del` raises KeyError (or next(iter())
    sees the dict change size): a 500 for that request."""
    errors = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def work(base):
        try:
            for n in range(3000):
                memo.hidden_rows(FakeMatching(base * 100000 + n), ["pk"])
        except Exception as error:
            errors.append(repr(error))

    with (
        mock.patch.object(memo, "shadowed", return_value="keys"),
        mock.patch.object(memo, "snapshot_identity", return_value=1),
    ):
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    sys.setswitchinterval(old)
    assert errors == []

"""Read the shards without testing each row's owner while no move is unfinished.

What it buys: ``shardmap.owned_rows`` keeps the rows of the logical shards a
database owns, a test of every row's id, because a database may also hold a
copy `rebalance` is making or has not deleted yet. A count of a whole shard
pays that test on every row (benchmarks/README.rst, benchmark 9). A database
holds such rows only while a move is unfinished: `rebalance` records each move
in ``default`` before it copies a row, and finishes the moves recorded before
it plans others.

So a reader notes the moves before it reads the shards, and again after. No
move unfinished, and none recorded or switched in between: every row it read
belongs where it was read. Otherwise it reads again, with the test.
"""

from django.db.models import Count, Max, Q

from . import samesql, shardmap


def moves_now() -> tuple:
    """The last move recorded, how many are unfinished, and the map's version."""
    from .models import ShardMove

    moves = ShardMove.objects.using("default").aggregate(
        last=Max("id"), unfinished=Count("id", filter=~Q(state=ShardMove.State.DONE))
    )
    return moves["last"], moves["unfinished"], shardmap.map_version()


class Settled:
    """Whether rows may be read without the ownership test, for one page."""

    def __init__(self) -> None:
        self.seen = moves_now()  # before any shard is read
        self.quiet = self.seen[1] == 0

    def rows(self, queryset, alias: str, owned: list[int]):
        """``queryset`` on ``alias``, among the logical shards it ``owned``."""
        if self.quiet:
            return queryset.using(alias)
        return shardmap.owned_rows(queryset, alias, owned)

    def fetch(self, queryset, alias: str, owned: list[int], limit: int) -> list:
        """The first ``limit`` rows of ``queryset`` on ``alias``, among the
        logical shards it ``owned``: with no test, the same SQL on every shard."""
        if self.quiet:
            return samesql.rows_on(queryset, alias, limit)
        return list(shardmap.owned_rows(queryset, alias, owned)[:limit])

    def read(self, reads):
        """``reads()``, and again, testing each row, if a move began meanwhile."""
        done = reads()
        return done if self.still() else reads()

    def still(self) -> bool:
        """After the reads: were they quiet throughout? If not, never again."""
        if self.quiet and moves_now() != self.seen:
            self.quiet = False
            return False
        return True

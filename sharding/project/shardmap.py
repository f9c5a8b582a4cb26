"""The shard map: which database holds each logical shard.

Reads and writes use a per-process copy, re-validated against the map's
version at most every SHARD_MAP_CHECK_SECONDS: a review write asks no database but
its shard. A copy that is out of date after a move is safe: a lookup that
misses asks again, and a write is refused by the old shard's fence
(``project/fence.py``) and asked again.
"""

import threading
import time
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.db.models import F, Max

from .ids import SEQUENCE_BITS, SHARD_BITS, shard_of
from .shardkeys import logical_shard


class NoShardInformation(LookupError):
    """A sharded query that names neither a product nor a review id."""


class ShardMoving(DatabaseError):
    """Writes to a logical shard are refused while `rebalance` moves it."""


class SettingsBehindTheMap(ImproperlyConfigured):
    """The map names a shard database this process was started without."""


class ShardMismatch(ValueError):
    """A saved review whose product now hashes to another logical shard than
    the one its id carries: saving would leave a copy on its old shard."""


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.aliases: dict[int, str] = {}
        self.version = None
        self.checked = 0.0


_cache = _Cache()


def map_version() -> int | None:
    from .models import ShardMap

    return ShardMap.objects.using("default").aggregate(v=Max("version"))["v"]


def refresh(force: bool = False) -> None:
    """Reload the map if it changed (checking at most every SHARD_MAP_CHECK_SECONDS)."""
    from .models import ShardMap

    now = time.time()
    fresh = now - _cache.checked < settings.SHARD_MAP_CHECK_SECONDS
    if not force and _cache.aliases and fresh:
        return
    version = map_version()
    if force or version != _cache.version:
        rows = dict(ShardMap.objects.using("default").values_list("logical", "alias"))
        check_configured(rows.values())
        with _cache.lock:
            _cache.aliases = rows
            _cache.version = version
    _cache.checked = now


def check_configured(aliases) -> None:
    """A map that names a database the settings lack would hide its reviews."""
    if missing := sorted(set(aliases) - set(settings.DATABASES)):
        raise SettingsBehindTheMap(
            f"The shard map sends logical shards to {', '.join(missing)}, which "
            "this process was started without: restart it, and it finds the "
            "shard databases from the data (on PostgreSQL, set "
            f"DATABASE_URL_{missing[0].upper()} for it first)."
        )


def configured() -> list[str]:
    """Every shard database of the settings, those being drained too."""
    return [*settings.SHARDS, *settings.DRAINING_SHARDS]


def databases() -> list[str]:
    """The databases that hold logical shards, by the map (not the settings:
    a database just added holds none until `rebalance` moves some there)."""
    return list(ownership())


def ownership() -> dict[str, list[int]]:
    """Each database and the logical shards the map gives it, read once: every
    shard of one fan-out must be asked by the same version of the map."""
    refresh()
    owned = defaultdict(list)
    for logical, holder in _cache.aliases.items():
        owned[holder].append(logical)
    return {alias: sorted(owned[alias]) for alias in sorted(owned)}


def owned_rows(queryset, alias: str, owned: list[int]):
    """The reviews of ``queryset`` on ``alias`` among its ``owned`` logical shards.

    A database may also hold rows it does not own: a copy `rebalance` is
    making, or has not deleted yet. Reading every shard, they would show twice.
    """
    if len(owned) == settings.LOGICAL_SHARDS:
        return queryset.using(alias)
    logical = F("id").bitrightshift(SEQUENCE_BITS).bitand((1 << SHARD_BITS) - 1)
    return queryset.using(alias).alias(logical=logical).filter(logical__in=owned)


def alias_of(logical: int) -> str:
    """The database that holds a logical shard, for reading."""
    refresh()
    try:
        return _cache.aliases[logical]
    except KeyError:
        raise NoShardInformation(
            f"Logical shard {logical} is in no database: run `manage.py setup_demo`."
        ) from None


def shard_for_product(product_id: int) -> str:
    return alias_of(logical_shard(product_id))


def shard_for_review(review_id: int) -> str:
    return alias_of(shard_of(review_id))


def shard_for(hints: dict) -> str:
    """The shard a query is about, from the router's hints."""
    instance = hints.get("instance")
    product_id = hints.get("product_id", getattr(instance, "product_id", None))
    review_id = hints.get("review_id", getattr(instance, "pk", None))
    if instance is not None:
        check_same_logical_shard(instance)
    try:
        if product_id is not None:
            logical = logical_shard(int(product_id))
        elif review_id is not None:
            logical = shard_of(int(review_id))
        else:
            raise TypeError
    except (TypeError, ValueError):
        raise NoShardInformation(
            "Reviews are sharded: query them by product (filter(product_id=...)),"
            " by id (get(pk=...)), or name the shard with .using(shard)."
        ) from None
    return alias_of(logical)


def check_same_logical_shard(review) -> None:
    """The logical shard of a review's id and of its product must agree."""
    if review.pk is None or review.product_id is None:
        return
    by_id, by_product = shard_of(int(review.pk)), logical_shard(int(review.product_id))
    if by_id != by_product:
        raise ShardMismatch(
            f"Review {review.pk} is kept with logical shard {by_id}; product "
            f"{review.product_id} is on logical shard {by_product}. Moving a review "
            "to another product means a new review there, and deleting this one."
        )


def initial_map(shards: list[str]) -> dict[int, str]:
    """Logical shards dealt round-robin over the shard databases."""
    return {n: shards[n % len(shards)] for n in range(settings.LOGICAL_SHARDS)}


def forget() -> None:
    """Drop this process's copy (tests, and after `rebalance`)."""
    with _cache.lock:
        _cache.aliases, _cache.version, _cache.checked = {}, None, 0.0

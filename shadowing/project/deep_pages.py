"""Speed-up: a deep page without reading and merging every row before it.

The core overlay reads the first ``stop`` rows of both sides for rows
``start:stop``: page 500 of 20 reads 10,000 rows. From DEEP_FROM on, the
snapshot skips to the page in SQL (OFFSET, as one database pages), corrected
by the hidden rows before it (counted in memory, see hidden_rows.py) and the
local rows before it; the rows that only place the page are read as sort
values and key, and only the page's own rows as models.

``FastOverlay`` is what the site reads through: the overlay with both
speed-ups. Its answers are the core's (the tests compare them).
"""

from django.db import connections, models
from django.db.models import Model, Q

from reviewsite.ordering import as_sorts

from .hidden_rows import CountedOverlay
from .overlay import listed, mark, order, sort_name

# From this row on, a page is found by skipping in SQL (_deep_page) rather
# than by reading and merging every row before it.
DEEP_FROM = 100


class FastOverlay(CountedOverlay):
    """The overlay, with counts from hidden rows and deep pages by OFFSET."""

    def __getitem__(self, index):
        if isinstance(index, slice) and self.augmented() and index.step is None:
            start, stop = index.start or 0, index.stop
            deep = start >= DEEP_FROM and (stop is None or stop >= 0)
            page = self._deep_page(start, stop) if deep and self._seekable() else None
            if page is not None:
                return page
        return super().__getitem__(index)

    def _seekable(self) -> bool:
        """A deep page can be found from one row on: the ordering ends with
        the key (no ties), and compares as order() does (on PostgreSQL, text
        is compared by the server's collation, not by code point)."""
        names = [sort_name(field) for field in self.ordering]
        text = (models.CharField, models.TextField)
        return names[-1:] == ["pk"] and (
            connections["snapshot"].vendor == "sqlite"
            or not any(
                isinstance(self.model._meta.get_field(name), text)
                for name in names[:-1]
            )
        )

    def _light(self, queryset, stop, start=0, ordering=None) -> list:
        """Rows ``start:stop`` of one side as sort values and key only: SQLite
        reads them from the index, and no model is built."""
        ordering = ordering or self.ordering
        sorts = as_sorts(self.model, ordering, queryset.db)
        names = dict.fromkeys([*(sort_name(field) for field in ordering), "pk"])
        rows = queryset.order_by(*sorts).values_list(*names, named=True)
        return list(rows[start:stop])

    def _deep_page(self, start: int, stop) -> list[Model] | None:
        """Rows ``start:stop`` without reading the rows before them.

        ``bound``, the snapshot's ``start``-th visible row, is found by walking
        its index as one database would (OFFSET, no list of keys to test each
        skipped row against): the hidden rows before the row at ``start``,
        counted in memory from their sort values, are as many visible rows
        further on. ``bound`` is preceded by exactly ``start`` visible rows
        and the local rows before it. The local rows before it (few: what
        you changed) push as many of the snapshot's last skipped rows into
        the page, read backwards from ``bound`` by keyset; the page then goes
        on with the rows from ``bound`` on, merged."""
        size = None if stop is None else stop - start
        after = self._walk(self.ordering, size, offset=start)
        if not after:
            return None  # past the snapshot's end: read from the top
        bound, model = after[0], self.model
        local_before = self._light(
            self.local().filter(before(bound, self.ordering, model)), None
        )
        local_after = self._light(
            self.local().filter(after_row(bound, self.ordering, model)), size
        )
        pushed = len(local_before)
        tail = []
        if pushed:
            backwards = [flip(field) for field in self.ordering]
            skipped = self._walk(backwards, pushed, after=bound)
            tail = order([*skipped, *local_before], self.ordering)[-pushed:]
        rest = order([*after, *local_after], self.ordering)
        local = {row.pk for row in [*local_before, *local_after]}
        return self._whole([*tail, *rest][:size], local)

    def _whole(self, rows: list, local: set) -> list[Model]:
        """The models of these light rows, in their order: one query per side
        by key (the keys are unique: a local key hides the snapshot's)."""
        found = {}
        for side, keys in [
            (self.local(), [row.pk for row in rows if row.pk in local]),
            (self.matching(), [row.pk for row in rows if row.pk not in local]),
        ]:
            if keys:
                by_key = side.filter(pk__in=listed(keys, side.db)).order_by()
                found |= {row.pk: row for row in by_key}
        return mark([found[row.pk] for row in rows])

    def _walk(self, ordering, want, offset: int = 0, after=None) -> list:
        """``want`` visible snapshot rows (all if None) in ``ordering``, light:
        the ``offset``-th visible one and those after it, or those after the
        row ``after``. Read in batches, each going on from the last row read
        by keyset; hidden rows are dropped by key, with no query."""
        hidden = self.hidden()
        matching = self.matching()
        queryset = (
            matching
            if after is None
            else matching.filter(after_row(after, ordering, self.model))
        )
        rows, skip, last = [], 0, None
        while True:
            if last is not None:
                queryset = matching.filter(after_row(last, ordering, self.model))
            limit = None if want is None else skip + want - len(rows) + want // 16 + 2
            if limit is not None and offset:
                limit += self._guess_skip(offset)
            batch = self._light(
                queryset, None if limit is None else offset + limit, offset, ordering
            )
            if offset and batch:
                # As many visible rows further on as hidden rows come before.
                skip = hidden.before(batch[0])
            offset = 0
            rows += [row for row in batch if row.pk not in hidden.keys]
            if want is None or len(batch) < limit or len(rows) >= skip + want:
                return rows[skip:][:want]
            last = batch[-1]

    def _guess_skip(self, offset: int) -> int:
        """About how many hidden rows come before the snapshot's ``offset``-th
        row, from their share of the snapshot (counted for the paginator),
        with a margin: the first batch then usually reaches the page, in one
        query. Over-reading costs little: the batch is light rows."""
        if not self._snapshot_rows:
            return 0
        share = len(self.hidden().keys) / self._snapshot_rows
        return int(offset * share * 1.5) + 8


def before(row, ordering: list[str], model=None) -> Q:
    """The rows that come before ``row`` in this ordering (NULLs first when
    ascending, as order()), as a filter: a keyset condition. It is led by a
    range on the first field where it can be (the field cannot be NULL, or
    it is descending): SQLite then seeks in the index on that field instead of
    testing every row of it against the ORs. ``row`` may be a light row
    (sort values and key) of ``model``."""
    meta = (model or row)._meta
    condition, same, lead = None, Q(), Q()
    for n, field in enumerate(ordering):
        name, value = sort_name(field), getattr(row, sort_name(field))
        nullable = name != "pk" and meta.get_field(name).null
        if field.startswith("-"):  # larger first, NULLs last
            earlier = (
                Q(**{f"{name}__isnull": False})
                if value is None
                else Q(**{f"{name}__gt": value})
            )
            if n == 0 and value is not None:
                lead = Q(**{f"{name}__gte": value})
        elif value is None:  # NULLs first: nothing comes before a NULL
            earlier = None
        else:
            earlier = Q(**{f"{name}__lt": value})
            if nullable:
                earlier |= Q(**{f"{name}__isnull": True})
            elif n == 0:
                lead = Q(**{f"{name}__lte": value})
        if earlier is not None:
            condition = (
                same & earlier if condition is None else condition | (same & earlier)
            )
        same &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
    return lead & condition if condition is not None else Q(pk__in=[])


def after_row(row, ordering: list[str], model=None) -> Q:
    """The rows that come after ``row`` (the ordering ends with the key: no
    other row ties with it)."""
    return before(row, [flip(field) for field in ordering], model)


def flip(field: str) -> str:
    return field[1:] if field.startswith("-") else "-" + field

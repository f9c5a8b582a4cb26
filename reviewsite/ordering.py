"""An ordering by field names as one Python key, for rows that come from
several databases and are merged (heapq.merge) or placed (bisect) in it.

Each field in turn, larger first where it starts with "-", and NULLs first
when ascending: SQLite's order, which the projects ask PostgreSQL for too
(``NULLS FIRST`` ascending, ``NULLS LAST`` descending)."""


def sort_name(field: str) -> str:
    """The attribute a field of an ordering reads ("id" is the key, "pk")."""
    name = field.lstrip("-")
    return "pk" if name == "id" else name


def sort_key(ordering: list[str]):
    fields = [(sort_name(field), field.startswith("-")) for field in ordering]

    def key(row) -> tuple:
        values = [(getattr(row, name), descending) for name, descending in fields]
        return tuple(
            Reversed((value is not None, value)) if descending
            else (value is not None, value)
            for value, descending in values
        )  # fmt: skip

    return key


class Reversed:
    """A value that sorts the other way round (a descending field)."""

    __slots__ = ["value"]

    def __init__(self, value):
        self.value = value

    def __eq__(self, other) -> bool:
        return self.value == other.value

    def __lt__(self, other) -> bool:
        return other.value < self.value

"""What take_snapshot does to personal data, on either engine.

Each production user gets one pseudonym: ``reviewerN``,
``reviewerN@example.invalid`` and a made-up first and last name (the same for
the same seed). The pseudonym replaces the user's values in ``auth_user``, and
everywhere else too: every text column of every table is searched for every
production username, email and name (a review that signs "Ada Lovelace
(ada)"), and what is found is replaced by that user's pseudonym, so one user
reads as one person throughout the snapshot. Then the same search runs again,
and a snapshot in which anything is still found is refused.

Kept as production has them: ids, products, ratings, dates of reviews, and
review texts apart from the personal values replaced. Changed in auth_user:
passwords (unusable), last_login (none), date_joined (the first day of its
month), is_staff and is_superuser (off: a developer makes a local admin).
Dropped: sessions and the admin's log.
"""

import functools
import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import unquote

from django.apps import apps
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from faker import Faker

TEXT_TYPES = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}
BATCH = 2000  # rows read and rewritten at a time
SHORTEST = 2  # a single letter is no name worth looking for


WORD = re.compile(r"\w+")
APOSTROPHES = "'\u2019"


@dataclass
class Pseudonyms:
    """Production's personal values, and what replaces each of them: names in
    their case (and capitalized), usernames and emails in any case, each also
    as it may be written (a curly apostrophe, an email in a URL as %40).

    A text is searched only for the values whose first word it holds (one
    scan in C): most texts hold none. The few it may hold become one small
    expression, matched as whole words, anywhere (inside a longer token too:
    "ada.lovelace" in "ada.lovelace@gmail.com")."""

    by_value: dict[str, str]  # names
    by_lower: dict[str, str]  # usernames and emails, lowercased

    def __post_init__(self) -> None:
        self.index = defaultdict(set)  # a first word, lowercased -> values
        self.replacements = {}
        for name, new in self.by_value.items():
            for variant in spellings(name):
                self.add(variant, new, any_case=False)
        for value, new in self.by_lower.items():
            for variant, replacement in [(value, new), *in_urls(value, new)]:
                self.add(variant, replacement, any_case=True)

    def add(self, value: str, new: str, any_case: bool) -> None:
        value = unicodedata.normalize("NFC", value)
        self.index[first_word(value).lower()].add((value, any_case))
        self.replacements.setdefault(value.lower() if any_case else value, new)

    def expression(self, text: str) -> re.Pattern | None:
        words = set(WORD.findall(text.lower()))
        held = frozenset(
            v for word in words & self.index.keys() for v in self.index[word]
        )
        return held and expression(held)

    def sub(self, text: str) -> str:
        """``text`` with every personal value replaced by its pseudonym."""
        normal = unicodedata.normalize("NFC", text)
        if not (pattern := self.expression(normal)):
            return text

        def replace(match: re.Match) -> str:
            found = match.group(0)
            return self.replacements.get(found) or self.replacements[found.lower()]

        return pattern.sub(replace, normal)

    def found(self, text: str) -> set[str]:
        """The personal values in ``text``, also URL-encoded."""
        normal = unicodedata.normalize("NFC", unquote(text))
        pattern = self.expression(normal)
        return set(pattern.findall(normal)) if pattern else set()


@functools.lru_cache(maxsize=4096)
def expression(values: frozenset) -> re.Pattern:
    ordered = sorted(values, key=lambda item: len(item[0]), reverse=True)
    parts = [
        f"(?i:{re.escape(v)})" if any_case else re.escape(v) for v, any_case in ordered
    ]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def spellings(name: str) -> set[str]:
    """A name as it may be written: as stored, capitalized, either apostrophe."""
    forms = {name, name[:1].upper() + name[1:]}
    return forms | {
        f.translate(str.maketrans(APOSTROPHES, APOSTROPHES[::-1])) for f in forms
    }


def in_urls(value: str, new: str) -> list[tuple[str, str]]:
    """An email inside a URL: its @ written %40."""
    return (
        [(value.replace("@", "%40"), new.replace("@", "%40"))] if "@" in value else []
    )


def first_word(value: str) -> str:
    words = WORD.findall(value)
    return words[0] if words else value


USERS = "SELECT id, username, email, first_name, last_name FROM auth_user ORDER BY id"


def anonymize(db, seed: int, mark: str) -> int:
    """Users pseudonymized, everywhere; ``db`` is a DB-API connection in a
    transaction (sqlite3 or psycopg; ``mark``: its placeholder)."""
    users = list(db.execute(USERS))
    pseudonyms = replace_users(db, users, seed, mark)
    scrub_text(db, pseudonyms, mark)
    db.execute("DELETE FROM django_session")
    db.execute("DELETE FROM django_admin_log")
    return len(users)


def replace_users(db, users: list, seed: int, mark: str) -> Pseudonyms:
    names = {value for row in users for value in row[3:] if value}
    prefix = free_prefix({row[1].lower() for row in users if row[1]})
    replacements = []
    update = (
        "UPDATE auth_user SET username = ?, email = ?, first_name = ?,"
        " last_name = ?, password = ?, last_login = NULL, is_staff = ?,"
        " is_superuser = ? WHERE id = ?"
    ).replace("?", mark)
    for user_id, *_ in users:
        # Each user's own draws, from the seed and the id: one user's names
        # never shift another's, and skipping a production name tells little.
        fake = Faker("en_US")
        fake.seed_instance(digest(seed, user_id))
        new = [
            f"{prefix}{user_id}",
            f"{prefix}{user_id}@example.invalid",
            made_up(fake.first_name, names, f"First{user_id}"),
            made_up(fake.last_name, names, f"Last{user_id}"),
        ]
        replacements.append(new)
        # Unusable, as Django's: "!" and characters that tell nothing.
        password = UNUSABLE_PASSWORD_PREFIX + f"{digest(seed, user_id, 'pw'):040x}"
        db.execute(update, [*new, password, False, False, user_id])
    month = (
        "strftime('%Y-%m-01 00:00:00', date_joined)"
        if mark == "?"
        else "date_trunc('month', date_joined)"
    )
    db.execute(f"UPDATE auth_user SET date_joined = {month}")
    return looked_for(users, replacements)


def looked_for(users: list, replacements: list) -> Pseudonyms:
    """What is looked for, with what replaces it: each user's username and
    email (any case), first and last name, from rows of USERS."""
    by_value, by_lower = {}, {}
    for row, new in zip(users, replacements, strict=True):
        for n, (value, pseudonym) in enumerate(zip(row[1:], new, strict=True)):
            if value and len(value) >= SHORTEST:
                if n < 2:  # username, email
                    by_lower.setdefault(value.lower(), pseudonym)
                else:
                    by_value.setdefault(value, pseudonym)
    return Pseudonyms(by_value, by_lower)


def digest(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:20], "big")


def free_prefix(usernames: set[str]) -> str:
    """``reviewer``, unless a production username is already reviewerN."""
    prefix = "reviewer"
    while any(re.fullmatch(re.escape(prefix) + r"\d+", name) for name in usernames):
        prefix += "-x"
    return prefix


def made_up(make, taken: set[str], fallback: str) -> str:
    """A made-up name that is no production name (the check would find it);
    after a few tries, a plain one (every Faker name may be taken)."""
    for _ in range(20):
        if (name := make()) not in taken:
            return name
    return fallback


def scrub_text(db, pseudonyms: Pseudonyms, mark: str) -> None:
    """Every personal value found in any text column, replaced (auth_user's
    own were replaced above: its new usernames must stay as they are)."""
    for table, key, columns in text_columns(db, mark):
        if table == "auth_user":
            continue
        for row in rows_of(db, table, key, columns, mark):
            new = [pseudonyms.sub(v) if v else v for v in row[1:]]
            if new != list(row[1:]):
                sets = ", ".join(f'"{column}" = {mark}' for column in columns)
                update = f'UPDATE "{table}" SET {sets} WHERE "{key}" = {mark}'
                db.execute(update, [*new, row[0]])


def watch_list(production) -> Pseudonyms:
    """Production's personal values, read from production itself: what the
    check looks for in the anonymized copy."""
    users = list(production.execute(USERS))
    return looked_for(users, [row[1:] for row in users])


def personal_values_left(db, production: Pseudonyms, mark: str) -> set[str]:
    """The production values still found in any text column of ``db``."""
    found = set()
    for table, key, columns in text_columns(db, mark):
        for row in rows_of(db, table, key, columns, mark):
            for value in row[1:]:
                if value:
                    found |= production.found(value)
    return found


def text_columns(db, mark: str) -> list[tuple[str, str, list[str]]]:
    """(table, key column, text columns) of every model table in ``db``."""
    tables = set(table_names(db, mark))
    found = []
    for model in apps.get_models():
        table = model._meta.db_table
        columns = [
            field.column
            for field in model._meta.concrete_fields
            if field.get_internal_type() in TEXT_TYPES
        ]
        if table in tables and columns and model._meta.pk.concrete:
            found.append((table, model._meta.pk.column, columns))
    return found


def table_names(db, mark: str) -> list[str]:
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if mark == "?"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    return [row[0] for row in db.execute(sql)]


def rows_of(db, table: str, key: str, columns: list[str], mark: str):
    """All rows, a batch at a time, by key: safe to rewrite while reading."""
    selected = ", ".join(f'"{column}"' for column in columns)
    last = None
    while True:
        where = "" if last is None else f'WHERE "{key}" > {mark}'
        batch = list(db.execute(
            f'SELECT "{key}", {selected} FROM "{table}" {where} '
            f'ORDER BY "{key}" LIMIT {BATCH}',
            [] if last is None else [last],
        ))  # fmt: skip
        yield from batch
        if len(batch) < BATCH:
            return
        last = batch[-1][0]

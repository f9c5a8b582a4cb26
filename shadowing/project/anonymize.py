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

import re
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from faker import Faker

TEXT_TYPES = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}
BATCH = 2000  # rows read and rewritten at a time
SHORTEST = 2  # a single letter is no name worth looking for


# A candidate: a run of word characters, with the punctuation usernames and
# emails may hold inside them.
TOKEN = re.compile(r"[\w.@+-]+")
WORD = re.compile(r"\w+")
EDGES = ".@+-"


@dataclass
class Pseudonyms:
    """Production's personal values, and what replaces each of them: names
    in their exact case, usernames and emails in any case. Text is cut into
    words and each is looked up, so the cost does not grow with the number of
    users (a regular expression of thousands of alternatives did)."""

    by_value: dict[str, str]  # names, exact case
    by_lower: dict[str, str]  # usernames and emails, any case

    def __post_init__(self) -> None:
        # A value that is not one token (a name with a space): a small
        # expression of its own, whole words only.
        names = [v for v in self.by_value if not single_token(v)]
        folded = [v for v in self.by_lower if not single_token(v)]
        alternatives = [*map(re.escape, names)]
        if folded:
            alternatives.append("(?i:" + "|".join(map(re.escape, folded)) + ")")
        self.odd = alternatives and re.compile(
            r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"
        )
        # The first word of every value (a text that holds a value holds its
        # first word): most texts hold none, and are passed over after a scan
        # or two in C.
        self.name_words = {first_word(name) for name in self.by_value}
        self.folded_words = {first_word(value).lower() for value in self.by_lower}

    def may_hold(self, text: str) -> bool:
        return not (
            self.name_words.isdisjoint(WORD.findall(text))
            and self.folded_words.isdisjoint(WORD.findall(text.lower()))
        )

    def lookup(self, word: str) -> str | None:
        return self.by_value.get(word) or self.by_lower.get(word.lower())

    def sub(self, text: str) -> str:
        """``text`` with every personal value replaced by its pseudonym."""
        if not self.may_hold(text):
            return text

        def token(match: re.Match) -> str:
            whole = match.group(0)
            core = whole.strip(EDGES)
            if core and (new := self.by_lower.get(core.lower())) is not None:
                return whole.replace(core, new, 1)
            return WORD.sub(lambda w: self.lookup(w.group(0)) or w.group(0), whole)

        text = TOKEN.sub(token, text)
        if self.odd:
            text = self.odd.sub(lambda m: self.lookup(m.group(0)) or m.group(0), text)
        return text

    def found(self, text: str) -> set[str]:
        """The personal values in ``text``."""
        found = set()
        if not self.may_hold(text):
            return found
        for match in TOKEN.finditer(text):
            core = match.group(0).strip(EDGES)
            if core.lower() in self.by_lower:
                found.add(core)
            found |= {w for w in WORD.findall(core) if self.lookup(w) is not None}
        if self.odd:
            found |= set(self.odd.findall(text))
        return found


def first_word(value: str) -> str:
    words = WORD.findall(value)
    return words[0] if words else value


def single_token(value: str) -> bool:
    return TOKEN.fullmatch(value) is not None and value.strip(EDGES) == value


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
    fake = Faker("en_US")
    fake.seed_instance(seed)
    names = {value for row in users for value in row[3:] if value}
    by_value, by_lower = {}, {}
    update = (
        "UPDATE auth_user SET username = ?, email = ?, first_name = ?,"
        " last_name = ?, password = ?, last_login = NULL, is_staff = ?,"
        " is_superuser = ? WHERE id = ?"
    ).replace("?", mark)
    for user_id, username, email, first, last in users:
        new = [
            f"reviewer{user_id}",
            f"reviewer{user_id}@example.invalid",
            made_up(fake.first_name, names),
            made_up(fake.last_name, names),
        ]
        for value, pseudonym in [(username, new[0]), (email, new[1])]:
            if value and len(value) >= SHORTEST:
                by_lower.setdefault(value.lower(), pseudonym)
        for value, pseudonym in [(first, new[2]), (last, new[3])]:
            if value and len(value) >= SHORTEST:
                by_value.setdefault(value, pseudonym)
        password = UNUSABLE_PASSWORD_PREFIX + fake.pystr(40, 40)  # as Django's
        db.execute(update, [*new, password, False, False, user_id])
    month = (
        "strftime('%Y-%m-01 00:00:00', date_joined)"
        if mark == "?"
        else "date_trunc('month', date_joined)"
    )
    db.execute(f"UPDATE auth_user SET date_joined = {month}")
    return Pseudonyms(by_value, by_lower)


def made_up(make, taken: set[str]) -> str:
    """A made-up name that is no production name (the scan would find it)."""
    while (name := make()) in taken:
        pass
    return name


def scrub_text(db, pseudonyms: Pseudonyms, mark: str) -> None:
    """Every personal value found in any text column, replaced."""
    for table, key, columns in text_columns(db, mark):
        for row in rows_of(db, table, key, columns, mark):
            new = [pseudonyms.sub(v) if v else v for v in row[1:]]
            if new != list(row[1:]):
                sets = ", ".join(f'"{column}" = {mark}' for column in columns)
                update = f'UPDATE "{table}" SET {sets} WHERE "{key}" = {mark}'
                db.execute(update, [*new, row[0]])


def watch_list(production) -> Pseudonyms:
    """Production's personal values, read from production itself: what the
    check looks for in the anonymized copy."""
    by_value, by_lower = {}, {}
    for _, username, email, first, last in production.execute(USERS):
        for value in [username, email]:
            if value and len(value) >= SHORTEST:
                by_lower[value.lower()] = value
        for value in [first, last]:
            if value and len(value) >= SHORTEST:
                by_value[value] = value
    return Pseudonyms(by_value, by_lower)


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

class DatabaseIdConverter:
    """A positive id that fits a signed 64-bit integer column.

    Django's ``int`` converter accepts any number of digits, and a number too
    big for the database makes the query fail with a 500 instead of a 404.
    """

    regex = "[0-9]{1,19}"
    MAX = 2**63 - 1

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= self.MAX:
            raise ValueError(f"{value} is not a database id")  # the URL does not match
        return number

    def to_url(self, value: int) -> str:
        return str(value)

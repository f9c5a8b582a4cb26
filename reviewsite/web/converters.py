class DatabaseIdConverter:
    """A positive id that fits a signed 64-bit integer column.

    Django's ``int`` converter accepts any number of digits. No row can have an
    id of 0 or past 2**63 - 1, so such URLs are a 404 at the resolver, before
    any query: no database is asked about ids it cannot hold.
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

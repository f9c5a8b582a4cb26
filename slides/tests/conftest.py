"""The deck shows pictures of the running demos: make them before any test
builds it, when `make slides` or the tox env has not (screenshots.py)."""

import screenshots


def pytest_sessionstart(session):
    if not all((screenshots.OUT / name).is_file() for name in screenshots.PICTURES):
        screenshots.main()

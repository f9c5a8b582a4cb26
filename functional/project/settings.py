"""1. Functional separation: products in ``default``, reviews in ``reviews``."""

from pathlib import Path

from reviewsite.settings import *

BASE_DIR = Path(__file__).resolve().parent.parent
PATTERN_NAME = "1. Functional separation"

DATABASES = {
    # Products, users, sessions, the admin log, content types.
    "default": database("default", BASE_DIR / "default.sqlite3"),
    # The reviews app, and nothing else.
    "reviews": database("reviews", BASE_DIR / "reviews.sqlite3"),
}
DATABASE_ROUTERS = ["project.router.FunctionalRouter"]

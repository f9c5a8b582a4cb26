from django.conf import settings


def pattern(request) -> dict:
    """Name the pattern this project shows, for the page header."""
    return {
        "pattern_name": settings.PATTERN_NAME,
        "demo_mode": settings.DEMO_MODE,
    }

"""Production settings: from the environment, refusing to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

STRONG_KEY = "k3Y-" + "".join(chr(33 + (i * 7) % 90) for i in range(60))


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run this project's manage.py in a fresh process with the given environment."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(settings.BASE_DIR),
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


class DeploySettingsTests(SimpleTestCase):
    def test_check_deploy_passes_with_no_warning_when_debug_is_off(self):
        result = manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=STRONG_KEY,
            DJANGO_ALLOWED_HOSTS="reviews.example.com",
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)

    def test_refuses_to_start_without_a_secret_key_when_debug_is_off(self):
        result = manage("check", DJANGO_DEBUG="0")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Set DJANGO_SECRET_KEY", result.stderr)

    def test_demo_mode_is_the_default_and_follows_debug(self):
        result = manage(
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.DEBUG, s.DEMO_MODE)",
        )
        self.assertEqual(result.stdout.split()[-2:], ["True", "True"], result.stderr)

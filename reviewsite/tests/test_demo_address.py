"""``setup_demo --addr``: the URL it tells you to open is the one runserver,
given the same address, serves."""

import argparse

from django.test import SimpleTestCase

from reviewsite.web.management.commands.setup_demo import site_url


class SiteUrlTests(SimpleTestCase):
    def test_each_form_runserver_takes(self):
        cases = {
            "127.0.0.1:8000": "http://127.0.0.1:8000/",
            "8001": "http://127.0.0.1:8001/",  # a port alone: runserver's address
            "0.0.0.0:9000": "http://0.0.0.0:9000/",
            "0:9000": "http://0.0.0.0:9000/",  # runserver's shorthand
            "[::1]:8002": "http://[::1]:8002/",
            "demo.localhost:8003": "http://demo.localhost:8003/",
        }
        for addrport, url in cases.items():
            with self.subTest(addrport=addrport):
                self.assertEqual(site_url(addrport), url)

    def test_what_runserver_refuses_is_refused_with_an_example(self):
        for addrport in ["", "localhost", "127.0.0.1:", ":8000", "8000x"]:
            with (
                self.subTest(addrport=addrport),
                self.assertRaisesMessage(argparse.ArgumentTypeError, "0.0.0.0:8000"),
            ):
                site_url(addrport)

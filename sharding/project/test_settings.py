"""The tests' settings: four shards, whatever a demo in this folder holds
(settings.py finds the shards from the data)."""

import os

os.environ.setdefault("SHARD_DATABASES", "4")

from project.settings import *

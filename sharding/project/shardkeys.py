"""Which logical shard a product's reviews belong to: a stable hash.

Python's hash() changes from one process to the next; a digest of the
product id does not, on any machine, in any language.
"""

from hashlib import blake2b

from django.conf import settings


def logical_shard(product_id: int) -> int:
    """The logical shard (0 to LOGICAL_SHARDS - 1) of a product's reviews."""
    digest = blake2b(str(int(product_id)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % settings.LOGICAL_SHARDS

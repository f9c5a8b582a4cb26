"""Database backends for copies of a database (replicas, snapshots)."""

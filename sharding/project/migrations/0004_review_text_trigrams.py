from django.db import migrations

INDEX = "review_text_trigrams"


def create(apps, schema_editor):
    """PostgreSQL: a trigram index on the text as the admin's search reads it
    (``text__icontains``: UPPER(text) LIKE UPPER('%word%')). SQLite: nothing."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON reviews_review "
        "USING gin (UPPER(text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    """The admin's search of every shard's reviews, served by an index."""

    dependencies = [
        ("project", "0003_logical_shards_on_their_shards"),
        ("reviews", "0001_initial"),
    ]

    operations = [
        # On the shards only, where the reviews are (the router's hint).
        migrations.RunPython(create, drop, hints={"model_name": "productstats"}),
    ]

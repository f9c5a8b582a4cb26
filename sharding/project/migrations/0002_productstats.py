from django.db import migrations, models


def install(apps, schema_editor):
    from project import productstats

    productstats.install(schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from project import productstats

    productstats.uninstall(schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Per-product review figures on every shard, kept by triggers."""

    dependencies = [
        ("project", "0001_initial"),
        ("reviews", "0001_initial"),  # the triggers are on the reviews table
    ]

    operations = [
        migrations.CreateModel(
            name="ProductStats",
            fields=[
                (
                    "product_id",
                    models.PositiveBigIntegerField(primary_key=True, serialize=False),
                ),
                ("reviews", models.PositiveIntegerField(default=0)),
                ("rated", models.PositiveIntegerField(default=0)),
                ("total", models.PositiveBigIntegerField(default=0)),
            ],
            options={
                "verbose_name_plural": "product stats",
            },
        ),
        migrations.RunPython(install, uninstall, hints={"model_name": "productstats"}),
    ]

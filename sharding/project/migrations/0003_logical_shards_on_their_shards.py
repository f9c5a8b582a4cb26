from django.db import migrations, models


def install_fence(apps, schema_editor):
    from project import fence

    fence.install(schema_editor.connection.alias)


def uninstall_fence(apps, schema_editor):
    from project import fence

    fence.uninstall(schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Each logical shard's state and id sequence move onto its shard, where
    the fence's triggers read them; one rebalance at a time, by a lease.

    The rows of LogicalShard are made after migrate (apps.hold_logical_shards),
    from the map in ``default``.
    """

    dependencies = [
        ("project", "0002_productstats"),
        ("reviews", "0001_initial"),  # the fence is on the reviews table
    ]

    operations = [
        migrations.CreateModel(
            name="LogicalShard",
            fields=[
                (
                    "logical",
                    models.PositiveSmallIntegerField(primary_key=True, serialize=False),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("owned", "Owned"),
                            ("frozen", "Frozen"),
                            ("incoming", "Incoming"),
                            ("moving", "Moving"),
                        ],
                        default="owned",
                        max_length=10,
                    ),
                ),
                ("epoch", models.PositiveIntegerField(default=0)),
                ("last_ms", models.BigIntegerField(default=0)),
                ("sequence", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(
            install_fence, uninstall_fence, hints={"model_name": "logicalshard"}
        ),
        migrations.CreateModel(
            name="RebalanceLease",
            fields=[
                (
                    "name",
                    models.CharField(
                        default="rebalance",
                        max_length=20,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("owner", models.CharField(blank=True, max_length=200)),
                ("expires", models.DateTimeField(null=True)),
                ("epoch", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.DeleteModel(name="IdSequence"),
        migrations.RemoveField(model_name="shardmap", name="moving"),
        migrations.RemoveField(model_name="shardmove", name="versions"),
        migrations.AlterField(
            model_name="shardmove",
            name="state",
            field=models.CharField(
                choices=[
                    ("planned", "Planned"),
                    ("copied", "Copied"),
                    ("switched", "Switched"),
                    ("deleting", "Deleting"),
                    ("done", "Done"),
                ],
                default="planned",
                max_length=10,
            ),
        ),
    ]

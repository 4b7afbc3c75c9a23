"""The at-risk subscriptions (orders.models.AT_RISK), newest change first, as one small
partial index: the overview's *At risk* list reads its first five rows, the customer list's
`at_risk` filter its customers. Built CONCURRENTLY on PostgreSQL, so a live
subscriptions table stays writable while it builds."""

from django.db import migrations, models
from django.db.models import Q

# The condition as orders.models.AT_RISK spells it when this was written (a migration
# keeps its own copy: the model's may change later, with a migration of its own).
AT_RISK = Q(status__in=("past_due", "unpaid")) | Q(
    status__in=("trialing", "active", "past_due", "incomplete")
) & (Q(cancel_at_period_end=True) | Q(next_attempt_at__isnull=False))
INDEX = models.Index(
    fields=["organization", "-modified_at", "-id"],
    condition=AT_RISK,
    name="subscription_at_risk",
)


def create(apps, schema_editor):
    model = apps.get_model("orders", "Subscription")
    if schema_editor.connection.vendor == "postgresql":
        # IF NOT EXISTS: a build interrupted earlier leaves an invalid index of this name;
        # drop it by hand (DROP INDEX CONCURRENTLY) and migrate again.
        sql = INDEX.create_sql(model, schema_editor, concurrently=True)
        schema_editor.execute(str(sql).replace("CONCURRENTLY", "CONCURRENTLY IF NOT EXISTS", 1))
    else:
        schema_editor.add_index(model, INDEX)


def drop(apps, schema_editor):
    model = apps.get_model("orders", "Subscription")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(model, INDEX, concurrently=True)
    else:
        schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    dependencies = [("orders", "0004_subscription_due_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="subscription", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop)],
        )
    ]

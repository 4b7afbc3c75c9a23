"""A timezone change waiting for the worker (organizations.jobs), and its lease. Both
columns are nullable without a default, so SQLite adds them with ALTER TABLE ADD COLUMN:
rebuilding organizations_organization there fails on the webhooks triggers that name it.
PostgreSQL adds them without rewriting the table."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organizations', '0005_analytics_settings'),
    ]

    operations = [
        migrations.AddField(
            model_name='organization',
            name='pending_timezone',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='organization',
            name='pending_timezone_locked_until',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name='organization',
            index=models.Index(condition=models.Q(('pending_timezone__isnull', False)), fields=['pending_timezone_locked_until'], name='organization_timezone_pending'),
        ),
    ]

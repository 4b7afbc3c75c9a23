"""Issue 18's tables and columns: merges (Customer.merged_into, CustomerAlias), erasure
(Customer.erased_at, erased_by) and the duplicates scan (DuplicatePair, DuplicateScan).
The new customer columns are NULL without a default: PostgreSQL adds them without
rewriting the table; their index is built concurrently by 0014."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0012_list_figure_indexes'),
        ('organizations', '0005_analytics_settings'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerAlias',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('id', 'Internal ID'), ('external_id', 'External ID')], max_length=16)),
                ('value', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='DuplicatePair',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reasons', models.JSONField(default=list)),
                ('score', models.FloatField()),
                ('found_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('dismissed_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name='DuplicateScan',
            fields=[
                ('organization', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='organizations.organization')),
                ('scanned_until', models.DateTimeField(blank=True, null=True)),
                ('scanned_id', models.UUIDField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name='customer',
            name='erased_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='customer',
            name='erased_by',
            field=models.ForeignKey(blank=True, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='customer',
            name='merged_into',
            field=models.ForeignKey(blank=True, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='merged_customers', to='customers.customer'),
        ),
        migrations.AddField(
            model_name='customeralias',
            name='customer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aliases', to='customers.customer'),
        ),
        migrations.AddField(
            model_name='customeralias',
            name='merged_customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer'),
        ),
        migrations.AddField(
            model_name='customeralias',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization'),
        ),
        migrations.AddField(
            model_name='duplicatepair',
            name='customer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer'),
        ),
        migrations.AddField(
            model_name='duplicatepair',
            name='dismissed_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='duplicatepair',
            name='organization',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.organization'),
        ),
        migrations.AddField(
            model_name='duplicatepair',
            name='other',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer'),
        ),
        migrations.AddConstraint(
            model_name='customeralias',
            constraint=models.UniqueConstraint(fields=('organization', 'kind', 'value'), name='customer_alias_unique'),
        ),
        migrations.AddIndex(
            model_name='duplicatepair',
            index=models.Index(condition=models.Q(('dismissed_at__isnull', True)), fields=['organization', '-score', 'id'], name='duplicate_pair_open'),
        ),
        migrations.AddConstraint(
            model_name='duplicatepair',
            constraint=models.UniqueConstraint(fields=('organization', 'customer', 'other'), name='duplicate_pair_unique'),
        ),
        migrations.AddConstraint(
            model_name='duplicatepair',
            constraint=models.CheckConstraint(condition=models.Q(('customer__lt', models.F('other'))), name='duplicate_pair_ordered'),
        ),
    ]

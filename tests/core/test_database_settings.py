"""The PostgreSQL settings the migrations make for the app's database (core 0003,
webhooks 0004, 0006): JIT off for new sessions, webhook payloads stored as `json` text
compressed with LZ4."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _one(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_jit_is_off_for_the_database_and_this_session(postgres_only):
    assert _one("SHOW jit") == "off"
    settings = _one(
        "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s "
        "JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE d.datname = current_database() AND s.setrole = 0"
    )
    assert "jit=off" in settings.split(",")


def test_webhook_payloads_are_compressed_with_lz4(postgres_only):
    if _one("SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)") == 0:  # fmt: skip
        pytest.skip("this PostgreSQL was built without LZ4")
    method = _one(
        "SELECT attcompression FROM pg_attribute "
        "WHERE attrelid = 'webhooks_webhookevent'::regclass AND attname = 'payload'"
    )
    assert method == "l"


def test_webhook_payloads_are_stored_as_the_text_written(postgres_only, organization):
    from webhooks.models import WebhookEvent

    column_type = _one(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'webhooks_webhookevent' AND column_name = 'payload'"
    )
    assert column_type == "json"
    event = WebhookEvent.objects.create(
        organization=organization, type="customer.created", payload={"z": 1, "a": [True, None]}
    )
    text = _one(f"SELECT payload::text FROM webhooks_webhookevent WHERE id = '{event.pk}'")
    assert text == '{"z":1,"a":[true,null]}'  # keys in the order written, compact
    assert WebhookEvent.objects.get(pk=event.pk).payload == {"z": 1, "a": [True, None]}


def test_events_have_no_index_of_the_organization_alone(postgres_only):
    indexes = _one(
        "SELECT array_agg(indexdef) FROM pg_indexes WHERE tablename = 'webhooks_webhookevent'"
    )
    columns = [d.split("(", 1)[1].rstrip(")") for d in indexes if "btree (" in d]
    assert "organization_id" not in columns
    assert any(c.startswith("organization_id, customer_id") for c in columns)

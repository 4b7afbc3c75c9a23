"""Settings → Audit log, mounted by config/urls.py at dashboard/<org_slug>/settings/audit-log/."""

from django.urls import path

from activity import audit

app_name = "audit"

urlpatterns = [
    path("", audit.audit_log, name="log"),
    path("export.csv", audit.audit_log_export, name="export"),
]

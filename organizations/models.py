from django.conf import settings
from django.db import models

from core.models import BaseModel


class Organization(BaseModel):
    """A merchant. Every tenant row belongs to exactly one organization."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(BaseModel):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="membership_unique_user_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "member"]), name="membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "organization"], name="membership_user_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER

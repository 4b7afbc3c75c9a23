"""Create an organization access token from the command line, for scripts and deployments.

Prints only the secret, so `TOKEN=$(python manage.py create_access_token ...)` works.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from organizations.models import AccessTokenScope, Organization
from organizations.services import access_token_create

# The service names fields; people typed options.
OPTION_NAMES = {"scopes": "--scopes", "expires_in_days": "--expires-in-days", "name": "--name"}


class Command(BaseCommand):
    help = (
        "Create an API access token for an organization and print its secret (and nothing "
        "else) on stdout. The secret is shown only this once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument(
            "--scopes",
            required=True,
            nargs="+",
            metavar="SCOPE",
            help=f"One or more of: {', '.join(AccessTokenScope.values)}.",
        )
        parser.add_argument("--name", default="Command-line token")
        parser.add_argument(
            "--expires-in-days",
            default=None,
            metavar="N",
            help="Days until the token expires (at least 1). Without it, it never expires.",
        )

    def handle(self, *args, organization: str, scopes, name: str, expires_in_days, **options):
        try:
            org = Organization.objects.get(slug=organization)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with the slug {organization!r}.") from None
        if expires_in_days is not None:
            try:
                expires_in_days = int(expires_in_days)
            except (TypeError, ValueError):
                raise CommandError(
                    f"--expires-in-days must be a whole number of days, got {expires_in_days!r}."
                ) from None
        try:
            _token, secret = access_token_create(
                organization=org, name=name, scopes=list(scopes), expires_in_days=expires_in_days
            )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        self.stdout.write(secret)


def _describe(error: ValidationError) -> str:
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    parts = []
    for field, messages in error.message_dict.items():
        parts.append(f"{OPTION_NAMES.get(field, field)}: {' '.join(messages)}")
        if field == "scopes":
            parts.append(f"Valid scopes: {', '.join(AccessTokenScope.values)}.")
    return " ".join(parts)

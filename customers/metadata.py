"""The metadata rules moved to core.metadata (products, orders, subscriptions and checkouts
follow them too, not only customers). This name is kept until customers/models.py,
customers/services.py, customers/schemas.py and checkouts/services.py import core.metadata.
"""

from core.metadata import (  # noqa: F401
    MAX_KEY_LENGTH,
    MAX_KEYS,
    MAX_STRING_LENGTH,
    MetadataValue,
    key_errors,
    metadata_errors,
    validate_metadata,
    validate_metadata_entry,
    value_errors,
)

"""The lake: parquet shards + manifests, the medium between every step."""

from lakehouse.errors import UserError
from lakehouse.store import Lake, existing_lake

__all__ = ["Lake", "UserError", "existing_lake"]

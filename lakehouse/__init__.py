"""The lake: parquet shards + manifests, the medium between every step."""

from lakehouse.errors import UserError
from lakehouse.store import Lake

__all__ = ["Lake", "UserError"]

"""The lake: parquet shards + manifests, the medium between every step."""

from lake.errors import UserError
from lake.store import Lake

__all__ = ["Lake", "UserError"]

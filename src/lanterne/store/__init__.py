"""Store: SQLite as the embedded default. Entry point: `Store`."""

from lanterne.store.db import Store, StoreError
from lanterne.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]

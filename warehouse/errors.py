"""The error types of the warehouse layer, in one module so that any module can raise them without
importing another (ingest, resolution, export, the data contract)."""

from __future__ import annotations


class IngestError(ValueError):
    """The file or mapping cannot be loaded as given; the message names where and what to do."""


class DataError(ValueError):
    """The data of an analysis cannot be read or matched as given (file, column, ids); the message says what to do."""


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked; the message says what to do."""

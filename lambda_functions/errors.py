"""The project's exception hierarchy: every message says what is wrong and what to do."""

from __future__ import annotations


class GrovesError(Exception):
    """Base class for every error groves raises on purpose."""


class InvalidEventError(GrovesError, ValueError):
    """An invocation event is missing a field, has an unknown one, or a bad value."""


class UnsafeNameError(GrovesError, ValueError):
    """A stock, run or file name could escape its storage space."""


class InputDataError(GrovesError, ValueError):
    """Raw or processed input data is malformed or unusable."""


class StorageError(GrovesError):
    """A store could not be opened, read or written."""


class ObjectNotFoundError(StorageError, KeyError):
    """A key does not exist in the store (shared by every storage backend)."""

    def __init__(self, key: str, where: str = "") -> None:
        self.key = key
        self.where = where
        super().__init__(key)

    def __str__(self) -> str:
        place = f" in {self.where}" if self.where else ""
        return f"object not found{place}: {self.key}"


class ReceiptError(GrovesError, ValueError):
    """A stored receipt is malformed or of a schema version this code does not read."""


class MissingOutputError(GrovesError):
    """An upstream stage's output is missing (e.g. a grove that never finished)."""


class IntegrityError(GrovesError):
    """Stored data does not match its recorded checksum."""


class WorkerFailedError(GrovesError):
    """A worker invocation finished with an error receipt or never finished.

    ``permanent`` is true when every failure was bad input (the same event fails the same
    way again), so retrying cannot help.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent

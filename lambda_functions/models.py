"""Loading stored models safely: verify the bytes against the receipt, then unpickle.

A ``.sav`` file is a pickle, and unpickling runs code. trainfull records each model's
SHA-256 in its receipt (``outputs[key]``); `load_model` refuses any model whose bytes do
not match, so a model changed after it was written is never unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from typing import Any

from lambda_functions.errors import IntegrityError
from lambda_functions.storage import Storage

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def load_model(store: Storage, key: str, expected_sha256: str) -> Any:
    """Read ``key``, check its SHA-256 against ``expected_sha256``, and only then unpickle.

    Raises:
        IntegrityError: the expected digest is malformed, or the stored bytes differ.
        ObjectNotFoundError: there is no object at ``key``.
    """
    expected = str(expected_sha256).strip().lower()
    if not _SHA256.match(expected):
        raise IntegrityError(
            f"expected SHA-256 of {key!r} is not 64 hex digits ({expected_sha256!r}): "
            "take it from the trainfull receipt's 'outputs'"
        )
    blob = store.get_bytes(key)
    actual = hashlib.sha256(blob).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise IntegrityError(
            f"{key} in {store.url}: SHA-256 {actual} does not match the receipt's "
            f"{expected}; the model changed after it was written, so it is not loaded: "
            "rerun trainfull for it"
        )
    import joblib

    return joblib.load(io.BytesIO(blob))

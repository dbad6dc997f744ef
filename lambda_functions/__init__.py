"""groves' workers: one module per Lambda function, each with a ``lambda_handler``."""

FUNCTIONS = (
    "processing", "parampreds", "predmses", "minmse",
    "trainfull", "testfull", "timingmetrics", "clearbuckets",
)  # fmt: skip
"""The worker functions (module names here, function names on Lambda after a prefix)."""

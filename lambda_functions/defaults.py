"""Run defaults, stated once: the original system's grid and grove counts (FACTS.md).

The event models, the run configuration, the CLI and the planner all take their defaults
from here.
"""

from __future__ import annotations

GRID_MAX_FEATURES = (5, 7, 9)
GRID_MIN_SAMPLES_SPLIT = (5, 15, 25)
GROVES_PER_CELL = 3  # grid-search groves per cell
TREES_PER_GROVE = 100  # trees of one grid-search grove
FINAL_GROVES = 30  # groves of the final model
FINAL_TREES = 25  # trees of one final grove
RUN_SEED = 0
MODEL_CODEC = "lz4"  # how final groves are saved (see lambda_functions.trainfull)
N_LAGS = 10  # TYPPRICE lags used as features
# The per-stock pipeline's seed defaults (the original Checkpoint-2 modeling's last settings)
PERSTOCK_MAX_FEATURES = (7,)
PERSTOCK_MIN_SAMPLES_SPLIT = (10,)
PERSTOCK_TREES = 20

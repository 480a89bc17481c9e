"""Write the data of the XGBoost example: a binary classification task of 12,000 rows and 20 features,
as SageMaker's built-in XGBoost algorithm reads CSV (the label in the first column, no header).

    python examples/xgboost/make_data.py            # examples/xgboost/data/{train,validation}.csv
    python examples/xgboost/make_data.py OUT_DIR

scikit-learn's ``make_classification`` (6 informative features, 2 redundant, 5% of the labels flipped),
seeded, so every run writes the same files: 8,000 training rows and 4,000 validation rows, about 2 MB.
Large enough that the blog's ranges matter: with ``alpha`` or ``min_child_weight`` near the top of their
ranges no tree can split and the validation AUC stays at 0.5; well chosen, it reaches about 0.9.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

ROWS, TRAIN_ROWS, SEED = 12_000, 8_000, 1


def write(folder: Path) -> list[Path]:
    x, y = make_classification(n_samples=ROWS, n_features=20, n_informative=6, n_redundant=2, flip_y=0.05,
                               class_sep=0.7, random_state=SEED)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in (("train", slice(0, TRAIN_ROWS)), ("validation", slice(TRAIN_ROWS, ROWS))):
        path = folder / f"{name}.csv"
        np.savetxt(path, np.column_stack([y[rows], x[rows]]), delimiter=",", fmt="%.6g")
        paths.append(path)
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data"
    for path in write(out):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")

"""XGBoost with the blog's 11 tunable hyperparameters, on scikit-learn's bundled breast-cancer data
(binary classification, 569 rows: no download).

A SageMaker script-mode entry point, like the XGBoost framework container runs one: every
hyperparameter arrives as ``--name value`` (unknown ones are tolerated), evaluation lines are printed
as XGBoost prints them (``[99]\\ttrain-auc:0.99\\tvalidation-auc:0.98``), the last one being the
final model's, and the model is saved to ``SM_MODEL_DIR``.

Needs the ``xgboost`` module: ``pip install xgboost-cpu`` (5.6 MB, CPU only) or ``xgboost``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

SEED = 0


def fail(message: str) -> None:
    """Exit non-zero with ``message`` as the job's FailureReason (SageMaker reads output/failure)."""
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if output_dir:
        Path(output_dir, "failure").write_text(message)
    print(message, file=sys.stderr)
    sys.exit(1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # The blog's table, with XGBoost's defaults.
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--colsample_bylevel", type=float, default=1.0)
    parser.add_argument("--colsample_bytree", type=float, default=1.0)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--gamma", type=float, default=0.0)
    parser.add_argument("--lambda", dest="reg_lambda", type=float, default=1.0)
    parser.add_argument("--max_delta_step", type=int, default=0)
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--num_round", type=int, default=100)
    parser.add_argument("--subsample", type=float, default=1.0)
    # Static: what SageMaker's XGBoost takes as StaticHyperParameters.
    parser.add_argument("--objective", default="binary:logistic")
    parser.add_argument("--eval_metric", default="auc,logloss")
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import xgboost as xgb
    except ImportError:
        fail("xgboost is not installed: pip install xgboost-cpu (CPU-only, 5.6 MB) or xgboost")

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    train = xgb.DMatrix(x_train, label=y_train)
    validation = xgb.DMatrix(x_val, label=y_val)
    params = {
        "alpha": args.alpha, "colsample_bylevel": args.colsample_bylevel,
        "colsample_bytree": args.colsample_bytree, "eta": args.eta, "gamma": args.gamma,
        "lambda": args.reg_lambda, "max_delta_step": args.max_delta_step, "max_depth": args.max_depth,
        "min_child_weight": args.min_child_weight, "subsample": args.subsample,
        "objective": args.objective, "eval_metric": args.eval_metric.split(","),
        "tree_method": "hist", "nthread": 1, "seed": SEED,
    }
    try:
        booster = xgb.train(params, train, num_boost_round=args.num_round,
                            evals=[(train, "train"), (validation, "validation")],
                            verbose_eval=max(1, args.num_round // 10))
    except xgb.core.XGBoostError as exc:
        fail(f"XGBoostError: {exc}")
    # The final model's evaluation, last in the log whatever verbose_eval printed.
    print(booster.eval_set([(train, "train"), (validation, "validation")], iteration=args.num_round - 1))
    if args.model_dir:
        Path(args.model_dir).mkdir(parents=True, exist_ok=True)
        booster.save_model(Path(args.model_dir) / "xgboost-model.json")


if __name__ == "__main__":
    main()

"""The blog's MNIST example on scikit-learn's bundled 8x8 digits: a one-hidden-layer MLP trained with
SGD, tuned over learning_rate and num_epoch with batch_size fixed at 100.

Written as a SageMaker script-mode entry point: hyperparameters arrive as ``--name value`` arguments
(unknown ones are tolerated), the model goes to ``SM_MODEL_DIR``, a failure is explained in
``SM_OUTPUT_DIR/failure``, and metrics are printed for the request's ``MetricDefinitions``::

    Epoch[29] Train-accuracy=0.9963 Validation-accuracy=0.9800
    Validation-accuracy=0.9800
    Training-seconds=0.31

Run it by hand: ``python examples/digits/train.py --learning_rate 0.1 --num_epoch 30``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits  # a scikit-learn dependency

SEED = 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--num_epoch", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--hidden_units", type=int, default=128)
    parser.add_argument("--solver", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # SageMaker passes every hyperparameter; a script should not die on extra ones
        print(f"ignoring unknown arguments: {' '.join(unknown)}", file=sys.stderr)
    if args.num_epoch < 1 or args.batch_size < 1 or not args.learning_rate > 0:
        parser.error("num_epoch and batch_size must be >= 1 and learning_rate > 0")
    return args


def train(args: argparse.Namespace) -> MLPClassifier:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # pixel intensities are 0..16
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    model = MLPClassifier(hidden_layer_sizes=(args.hidden_units,), solver=args.solver,
                          learning_rate_init=args.learning_rate, batch_size=args.batch_size,
                          momentum=0.9, random_state=SEED)
    classes = np.unique(y)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(args.num_epoch):  # one partial_fit is one epoch: report each, like MXNet
            model.partial_fit(x_train, y_train, classes=classes)
            print(f"Epoch[{epoch}] Train-accuracy={model.score(x_train, y_train):.4f} "
                  f"Validation-accuracy={model.score(x_val, y_val):.4f}")
    seconds = time.perf_counter() - started
    print(f"Validation-accuracy={model.score(x_val, y_val):.4f}")
    print(f"Training-seconds={seconds:.3f}")
    return model


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if "OMP_NUM_THREADS" not in os.environ:
        # The matrices are tiny and trials run side by side on the same cores: threaded BLAS only
        # adds contention (measured 5-20x slower on 2 busy cores).
        threadpool_limits(1)
    print(f"learning_rate={args.learning_rate} num_epoch={args.num_epoch} batch_size={args.batch_size}")
    try:
        model = train(args)
        if args.model_dir:
            import joblib  # ships with scikit-learn

            Path(args.model_dir).mkdir(parents=True, exist_ok=True)
            joblib.dump(model, Path(args.model_dir) / "model.joblib")
    except Exception as exc:
        # SageMaker shows the content of /opt/ml/output/failure as the job's FailureReason.
        output_dir = os.environ.get("SM_OUTPUT_DIR")
        if output_dir:
            Path(output_dir, "failure").write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        raise


if __name__ == "__main__":
    main()

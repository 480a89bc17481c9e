"""An MLP on scikit-learn's bundled 8x8 digits that reports its validation accuracy after every epoch,
for tuning with early stopping (``TrainingJobEarlyStoppingType: "Auto"``).

A SageMaker script-mode entry point: hyperparameters arrive as ``--name value`` arguments (unknown
ones are tolerated), the model goes to ``SM_MODEL_DIR``, a failure is explained in
``SM_OUTPUT_DIR/failure``. One line per epoch, which the request's ``MetricDefinitions`` read::

    epoch=7 train_loss=0.1532 validation_accuracy=0.9644

Early stopping needs exactly that: the objective once per epoch (SageMaker's rule compares each job's
k-th value with the earlier jobs' first k values). Stopped, the job receives SIGTERM (SageMaker sends
it on StopTrainingJob and allows 120 seconds before SIGKILL); it finishes the epoch under way, saves
the model it has, and exits, so an early-stopped job still leaves a model behind.

Run it by hand: ``python examples/early_stopping/train.py --learning_rate 0.05 --batch_size 64``.
"""

from __future__ import annotations

import argparse
import os
import signal
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
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--hidden_units", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # SageMaker passes every hyperparameter; a script should not die on extra ones
        print(f"ignoring unknown arguments: {' '.join(unknown)}", file=sys.stderr)
    if args.epochs < 1 or args.batch_size < 1 or not args.learning_rate > 0 or not 0 <= args.momentum < 1:
        parser.error("epochs and batch_size must be >= 1, learning_rate > 0 and 0 <= momentum < 1")
    return args


class Stop:
    """Set by SIGTERM: training ends after the epoch under way."""

    requested = False

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        cls.requested = True


def train(args: argparse.Namespace) -> MLPClassifier:
    x, y = load_digits(return_X_y=True)
    x = x / 16.0  # pixel intensities are 0..16
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    model = MLPClassifier(hidden_layer_sizes=(args.hidden_units,), solver="sgd",
                          learning_rate_init=args.learning_rate, momentum=args.momentum,
                          batch_size=args.batch_size, random_state=SEED)
    classes = np.unique(y)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, args.epochs + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            print(f"epoch={epoch} train_loss={model.loss_:.4f} "
                  f"validation_accuracy={model.score(x_val, y_val):.4f}", flush=True)
            if Stop.requested:
                print(f"stopped after epoch {epoch} of {args.epochs} (SIGTERM)", flush=True)
                break
    print(f"training_seconds={time.perf_counter() - started:.3f}")
    return model


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, Stop.handle)
    args = parse_args(argv)
    if "OMP_NUM_THREADS" not in os.environ:
        threadpool_limits(1)  # tiny matrices, trials side by side: threaded BLAS only adds contention
    print(f"learning_rate={args.learning_rate} momentum={args.momentum} batch_size={args.batch_size} "
          f"epochs={args.epochs}", flush=True)
    try:
        model = train(args)
        if args.model_dir:
            import joblib  # ships with scikit-learn

            Path(args.model_dir).mkdir(parents=True, exist_ok=True)
            joblib.dump(model, Path(args.model_dir) / "model.joblib")
    except Exception as exc:
        output_dir = os.environ.get("SM_OUTPUT_DIR")
        if output_dir:  # SageMaker shows this file's content as the job's FailureReason
            Path(output_dir, "failure").write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        raise


if __name__ == "__main__":
    main()

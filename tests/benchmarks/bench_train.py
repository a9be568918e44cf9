"""Training throughput: the real input pipeline (memory-mapped shards → tf.data) versus the same
model fed from an in-memory NumPy array, side by side in one run (``make bench-train``).

The data are shard tensors of realistic size written to a temporary directory in the exact
upstream layout (``tests/train_fixtures.py``); the model is the default architecture of
``config/config.yaml``. Both paths train the same number of images with the same batch size and
threads; the first epoch (graph tracing) is excluded from both figures.

    python tests/benchmarks/bench_train.py [--patients 36] [--size 128] [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from mriseq.models.balance import balanced_class_weights, drawn_labels  # noqa: E402
from mriseq.models.cnn.network import build_cnn, compile_cnn, configure_runtime  # noqa: E402
from mriseq.models.cnn.pipeline import epoch_samples, training_dataset  # noqa: E402
from mriseq.models.training_data import encode_labels, open_tensors  # noqa: E402
from train_fixtures import SEQUENCES, fabricate  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


class EpochTimer:
    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds: list[float] = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._start)

        return Timer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=36)
    parser.add_argument("--slices", type=int, default=16, help="slices per series")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-slices-per-series", type=int, default=8)
    args = parser.parse_args()

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    train = config["train"]
    configure_runtime(args.threads, 0)

    with tempfile.TemporaryDirectory() as tmp:
        data = fabricate(Path(tmp), patients=args.patients, size=args.size, slices=args.slices,
                         folds=5, shards=8)
        tensors = open_tensors(data["tensors"], data["index"])
        classes = SEQUENCES
        labels = encode_labels(tensors.index, "sequence", classes)
        positions = np.arange(len(labels))
        codes = np.unique(tensors.index["series_key"], return_inverse=True)[1]
        samples = epoch_samples(codes, positions, args.max_slices_per_series, args.epochs,
                                np.random.default_rng(0))
        weights = balanced_class_weights(drawn_labels(samples, labels), len(classes),
                                         train["max_class_weight"])
        batch = int(train["batch_size"])
        steps = int(np.ceil(samples.shape[1] / batch))
        per_epoch = samples.shape[1]
        print(f"{len(labels)} slices of {args.size}x{args.size} in {len(data['tensors'])} "
              f"memory-mapped shards; {per_epoch} images/epoch, batch {batch}, "
              f"{args.epochs} epochs, {args.threads} thread(s)")

        def run(fit_kwargs) -> float:
            model = build_cnn(args.size, len(classes), train["architecture"],
                              train["augmentation"], seed=0)
            compile_cnn(model, train["learning_rate"])
            timer = EpochTimer()
            model.fit(epochs=args.epochs, callbacks=[timer], verbose=0, **fit_kwargs)
            steady = timer.seconds[1:]
            return per_epoch * len(steady) / sum(steady)

        pipeline = run({"x": training_dataset(tensors, samples, labels, len(classes), batch,
                                              weights), "steps_per_epoch": steps,
                        "shuffle": False})
        # The in-memory baseline gets each epoch's images already gathered into one array.
        flat = samples[0]
        x = tensors.gather(flat)[..., None]
        y = np.eye(len(classes), dtype=np.float32)[labels[flat]]
        w = weights[labels[flat]]
        in_memory = run({"x": x, "y": y, "sample_weight": w, "batch_size": batch,
                         "shuffle": True})
    ratio = pipeline / in_memory
    print(f"train: {pipeline:,.0f} images/s via memmap tf.data pipeline vs in-memory NumPy "
          f"{in_memory:,.0f} images/s = {ratio:.2f}x (target >= 0.90)")


if __name__ == "__main__":
    main()

"""The CNN's learning curves: loss and accuracy per epoch of every fold, drawn from the
``history.csv`` files its training writes (epochs numbered from 1 there and here)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mriseq.figures import pyplot, save_figure
from mriseq.io import atomic_path


def plot_learning_curves(histories: Sequence[str | os.PathLike], out_paths: Sequence[str],
                         title: str, dpi: int = 120) -> None:
    """Loss and accuracy per epoch of every fold (training solid, validation dashed)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    colours = plt.get_cmap("tab10")
    for fold, path in enumerate(histories):
        history = pd.read_csv(path)
        # The training job numbers epochs from 1 (history.csv); a history without the column
        # is numbered the same way.
        epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            if metric in history:
                ax.plot(epochs, history[metric], color=colours(fold), label=f"fold {fold} train")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], color=colours(fold), linestyle="--",
                        label=f"fold {fold} val")
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_paths, dpi)
    plt.close(fig)


def plot_fold_curve(history: pd.DataFrame, title: str, path: str, dpi: int) -> None:
    """One fold's loss and accuracy per epoch (training and validation), as its job trains."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        if metric in history:
            ax.plot(history["epoch"], history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)

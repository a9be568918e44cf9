"""Evaluation figures drawn from stored tables only (confusion matrices, model comparison,
reliability and coverage).

Each function reads CSV tables written by the evaluation or training stages and writes one figure
per requested format, atomically. Changing a ``plots.*`` option reruns these jobs and nothing
upstream. No TensorFlow here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mriseq.figures import pyplot, readable, save_figure
from mriseq.logs import progress

log = logging.getLogger("mriseq.evaluation.plots")


def plot_confusion(table_csv: str | os.PathLike, out_paths: Sequence[str], title: str,
                   cmap: str = "Blues", dpi: int = 120) -> None:
    """Heatmap of a confusion table (``true`` column + one column per predicted class, taxonomy
    order). Counts are annotated as integers, row-normalised tables as fractions."""
    import seaborn as sns

    plt = pyplot()
    table = pd.read_csv(table_csv).set_index("true")
    values = table.to_numpy(dtype=float)
    normalised = "normalised" in Path(table_csv).name
    n = len(table)
    size = max(3.5, 0.55 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    sns.heatmap(
        values, ax=ax, cmap=cmap, annot=True, fmt=".2f" if normalised else ".0f",
        vmin=0, vmax=1 if normalised else None, square=True, linewidths=0.5, linecolor="white",
        cbar_kws={"label": "fraction of reference class" if normalised else "count",
                  "shrink": 0.8},
        annot_kws={"fontsize": 7 if n > 6 else 9},
        xticklabels=[readable(c) for c in table.columns],
        yticklabels=[readable(c) for c in table.index],
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title, fontsize=10)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    plt.setp(ax.get_yticklabels(), rotation=0)
    save_figure(fig, out_paths, dpi)
    plt.close(fig)


def plot_comparison(tables: dict[str, str | os.PathLike], out_paths: Sequence[str], title: str,
                    metric: str = "macro_f1", dpi: int = 120) -> None:
    """Grouped bars: ``metric`` (with its bootstrap CI) per task × model, slice and volume level.
    ``tables`` maps task name to its ``comparison.csv``."""
    plt = pyplot()
    frames = [pd.read_csv(path).assign(task=task) for task, path in tables.items()]
    df = pd.concat(frames, ignore_index=True)
    levels = ["slice", "volume"]
    models = list(dict.fromkeys(df["model"]))
    tasks = list(tables)
    fig, axes = plt.subplots(1, len(levels), figsize=(4 + 2.2 * len(tasks), 3.6), sharey=True,
                             squeeze=False)
    width = 0.8 / max(len(models), 1)
    colours = plt.get_cmap("Set2")
    for ax, level in zip(axes[0], levels, strict=True):
        sub = df[df["level"] == level]
        for j, model in enumerate(models):
            rows = sub[sub["model"] == model].set_index("task").reindex(tasks)
            x = np.arange(len(tasks)) + (j - (len(models) - 1) / 2) * width
            value = rows[metric].to_numpy(dtype=float)
            low = value - rows[f"{metric}_ci_low"].to_numpy(dtype=float)
            high = rows[f"{metric}_ci_high"].to_numpy(dtype=float) - value
            err = np.nan_to_num(np.vstack([low, high]), nan=0.0).clip(min=0)
            ax.bar(x, np.nan_to_num(value), width, yerr=err, capsize=3, label=model,
                   color=colours(j))
        ax.set_xticks(np.arange(len(tasks)), tasks)
        ax.set_title(f"{level} level")
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel(readable(metric).replace("macro f1", "macro F1"))
    axes[0, -1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_paths, dpi)
    plt.close(fig)


def plot_confusion_tables(tables: Sequence[str], figures: Sequence[str], formats: Sequence[str],
                          label: str, cmap: str = "Blues", dpi: int = 120) -> None:
    """Draw every ``confusion_<model>_<level>_<kind>.csv`` of one dataset×task to the figure path
    of the same stem in each format (``figures`` lists all of them)."""
    by_name = {Path(f).name: f for f in figures}
    for table in progress(list(tables), desc="confusion matrices"):
        stem = Path(table).stem
        # Model names may hold underscores (hist_rf): split level and kind off the right.
        prefix, level, kind = stem.rsplit("_", 2)
        model = prefix.removeprefix("confusion_")
        vote = " (majority vote)" if level == "volume" else ""
        plot_confusion(table, [by_name[f"{stem}.{ext}"] for ext in formats],
                       title=f"{label} · {model} · {level} level{vote} · {kind}",
                       cmap=cmap, dpi=dpi)


def plot_reliability(tables: dict[str, str | os.PathLike], out_paths: Sequence[str], title: str,
                     level: str = "volume", dpi: int = 120) -> None:
    """Reliability diagrams of one dataset: a row per task (``tables``: task -> its
    ``reliability.csv``), a panel per model, accuracy against confidence per bin before and
    after calibration (the diagonal is perfect calibration; the legend gives each ECE)."""
    plt = pyplot()
    loaded = {task: pd.read_csv(path) for task, path in tables.items()}
    models = list(dict.fromkeys(m for t in loaded.values() for m in t["model"]))
    fig, axes = plt.subplots(len(loaded), max(1, len(models)), squeeze=False,
                             figsize=(2.8 * max(1, len(models)), 2.7 * len(loaded)))
    for r, (task, table) in enumerate(loaded.items()):
        for c, model in enumerate(models):
            ax = axes[r][c]
            ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--")
            for stage, style in (("before", dict(color="tab:orange", marker="o")),
                                 ("after", dict(color="tab:blue", marker="s"))):
                part = table[(table["model"] == model) & (table["level"] == level)
                             & (table["stage"] == stage) & (table["n"] > 0)]
                if not len(part):
                    continue
                gaps = (part["accuracy"] - part["confidence"]).abs()
                ece = float((part["n"] * gaps).sum() / part["n"].sum())
                ax.plot(part["confidence"], part["accuracy"], ms=3, lw=1.2,
                        label=f"{stage} (ECE {ece:.3f})", **style)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{model}, {task}", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
            if r == len(loaded) - 1:
                ax.set_xlabel("confidence")
            if c == 0:
                ax.set_ylabel("accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_paths, dpi)
    plt.close(fig)


def plot_coverage(tables: dict[str, str | os.PathLike], out_paths: Sequence[str], title: str,
                  dpi: int = 120) -> None:
    """Coverage–accuracy curves of one dataset: a panel per task (``tables``: task -> its
    ``coverage.csv``), a line per model; the configured threshold is marked on each line."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tables), squeeze=False, figsize=(3.6 * len(tables), 3.3))
    for ax, (task, path) in zip(axes[0], tables.items(), strict=True):
        table = pd.read_csv(path)
        for model, part in table.groupby("model", sort=False):
            part = part[part["n_called"] > 0].sort_values("coverage")
            line, = ax.plot(part["coverage"], part["accuracy"], lw=1.4, label=model)
            chosen = part[part["configured"]]
            ax.plot(chosen["coverage"], chosen["accuracy"], "o", color=line.get_color())
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("coverage (volumes called)")
        ax.set_ylabel("accuracy of the called volumes")
        ax.set_title(task)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_paths, dpi)
    plt.close(fig)

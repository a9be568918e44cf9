"""The README's results block is generated from the stored comparison tables."""

from __future__ import annotations

import pandas as pd
import pytest
from mriseq.report.summary import BEGIN, END, SummaryError, main, replace_block, write_summary


def _comparison(path, f1):
    rows = []
    for model, shift in (("cnn", 0.0), ("hist_rf", -0.1)):
        for level, n in (("slice", 400), ("volume", 30)):
            rows.append({"model": model, "level": level, "n": n, "n_patients": 5,
                         "macro_f1": f1 + shift, "balanced_accuracy": f1 + shift - 0.01})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_summary_tables_follow_the_stored_metrics(tmp_path):
    paths = {("internal", "sequence"): _comparison(tmp_path / "a.csv", 0.9),
             ("internal", "contrast"): _comparison(tmp_path / "b.csv", 0.8),
             ("dlds", "sequence"): tmp_path / "missing.csv"}
    text = write_summary(tmp_path / "summary.md", paths, ["internal", "dlds"],
                         ["sequence", "contrast"], {"cnn": "CNN", "hist_rf": "hist RF"})
    assert text.startswith(BEGIN) and text.rstrip().endswith(END)
    assert "| sequence, volume | 0.900 | 0.800 | – | – |" in text
    assert "| contrast, slice | 0.800 | 0.700 | – | – |" in text
    assert "| sequence, volume | 0.890 | 0.790 | – | – |" in text  # balanced accuracy
    assert "internal: 30 volumes of 5 patients" in text
    # Same tables, same bytes: nothing time- or host-dependent in the text.
    again = write_summary(tmp_path / "again.md", paths, ["internal", "dlds"],
                          ["sequence", "contrast"], {"cnn": "CNN", "hist_rf": "hist RF"})
    assert again == text == (tmp_path / "summary.md").read_text()


def test_readme_block_is_replaced_and_idempotent(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text(f"{BEGIN}\n| new |\n{END}\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{BEGIN}\n| old typed |\n{END}\n\nrest\n")
    assert main([str(readme), str(summary)]) == 0
    once = readme.read_text()
    assert "| new |" in once and "old typed" not in once and once.endswith("\n\nrest\n")
    assert main([str(readme), str(summary)]) == 0
    assert readme.read_text() == once
    with pytest.raises(SummaryError):
        replace_block("no block here", summary.read_text())


def test_repository_readme_has_a_generated_block():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text[text.index(BEGIN):text.index(END)]
    assert "Macro-F1" in block and "| task |" in block

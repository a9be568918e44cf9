"""The review page (mriseq.review): the cards and their order, the thumbnails, the page, the labels
sheet it exports and imports, and the generic layout taking that sheet (``SeriesKey``) on the
files it came from. The dataset is fabricated (tests/review_fixtures.py); the browser side is
tests/workflow/test_review_browser.py."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from mriseq.io import current_umask
from mriseq.review.cards import build_cards, review_order
from mriseq.review.page import write_review
from mriseq.review.sheet import labels_sheet, sheet_decisions, sheet_text
from mriseq.review.thumbs import GAP, pick_slices
from mriseq.scan.layouts.base import LabelsError
from mriseq.scan.layouts.registry import join_labels
from mriseq.scan.manifests import merge_manifests
from mriseq.scan.privacy import pseudonym
from mriseq.scan.shard import scan_shard
from mriseq.taxonomy import DEFAULT_TAXONOMY
from PIL import Image
from review_fixtures import KEY, SIZE, TASKS, review_kwargs, uid, volume_key, write_dataset
from volume_archive import build_archive

A, B1, B2 = volume_key("A", 1, 1), volume_key("B", 1, 2), volume_key("B", 2, 2)
C, D, E = volume_key("C", 1, 1), volume_key("D", 1, 1), volume_key("E", 1, 1)


def page_data(page: Path) -> dict:
    text = page.read_text()
    block = re.search(r'<script type="application/json" id="review-data">(.*?)</script>', text,
                      re.S)
    assert block, "the page holds its data block"
    return json.loads(block[1])


@pytest.fixture(scope="module")
def predict_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("review_predict")
    paths = write_dataset(root / "results", labelled=False)
    page = root / "review" / "index.html"
    write_review(str(page), str(root / "review" / "thumbs"), **review_kwargs(paths, False))
    return page


@pytest.fixture(scope="module")
def labelled_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("review_labelled")
    paths = write_dataset(root / "results", labelled=True)
    page = root / "review" / "index.html"
    write_review(str(page), str(root / "review" / "thumbs"), **review_kwargs(paths, True))
    return page


# ---- cards and their order ----------------------------------------------------------------------


def test_predict_mode_order_uncertain_then_header_then_lowest_probability(predict_page):
    data = page_data(predict_page)
    cards = {card["k"]: card for card in data["cards"]}
    assert [card["k"] for card in data["cards"]] == [B2, C, E, B1, A, D]
    assert cards[B2]["unc"] == ["sequence"]
    assert cards[B2]["pred"]["sequence"][:2] == ["uncertain", "t1_arterial"]
    assert cards[B2]["pred"]["sequence"][2] == pytest.approx(0.45)
    assert cards[B2]["pred"]["sequence"][3] == "t1_inphase"  # the runner-up
    assert (cards[B2]["i"], cards[B2]["n"]) == (2, 2)
    assert cards[C]["why"] == ["b_value"] and cards[C]["h"]["b"] == "0/800"
    assert cards[A]["h"] | {"te": 90.0, "tr": 1200.0} == cards[A]["h"]
    assert cards[A]["h"]["desc"] == "T2 HASTE AX" and cards[A]["h"]["plane"] == "axial"
    assert cards[D]["t"] == 0 and all(p[1] is None for p in cards[D]["pred"].values())
    assert "ref" not in cards[A] and not data["meta"]["labelled"]
    assert data["meta"]["storage"] == "mriseq-review/fabricated"


def test_labelled_order_puts_errors_first_and_shows_the_reference(labelled_page):
    data = page_data(labelled_page)
    cards = {card["k"]: card for card in data["cards"]}
    assert [card["k"] for card in data["cards"]] == [C, E, B2, B1, A]  # D: nothing predicted
    assert cards[C]["err"] == ["sequence"] and cards[C]["ref"]["sequence"] == "dwi"
    assert cards[E]["err"] == ["sequence"] and cards[A]["err"] == []
    assert data["meta"]["labelled"]


def test_lowest_probability_of_any_task_orders_the_rest():
    def card(key, probabilities):
        return {"k": key, "s": key, "i": 1, "unc": [], "why": [],
                "pred": {t: [c, c, p, None, None] for t, (c, p) in probabilities.items()}}

    cards = [card("a", {"sequence": ("t2", 0.9), "contrast": ("pre", 0.6)}),
             card("b", {"sequence": ("t2", 0.55), "contrast": ("pre", 0.99)}),
             card("c", {"sequence": (None, None), "contrast": (None, None)}),
             card("d", {"sequence": ("t2", 0.99), "contrast": ("pre", 0.99)})]
    cards[3]["why"] = ["contrast"]
    order = [c["k"] for c in review_order(cards, ["sequence", "contrast"])]
    assert order == ["d", "b", "a", "c"]


# ---- thumbnails and the page --------------------------------------------------------------------


def test_pick_slices_takes_centres_of_equal_parts():
    assert pick_slices(10, 4) == [1, 3, 6, 8]
    assert pick_slices(3, 4) == [0, 1, 2]
    assert pick_slices(1, 4) == [0]
    assert pick_slices(0, 4) == []


def test_thumbnails_are_files_beside_the_page_readable_by_the_group(predict_page):
    thumbs = predict_page.parent / "thumbs"
    assert sorted(p.name for p in thumbs.iterdir()) == sorted(f"{k}.png" for k in (A, B1, B2, C, E))
    with Image.open(thumbs / f"{A}.png") as image:  # 4 slices, 3 drawn (review.slices)
        assert image.size == (3 * SIZE + 2 * GAP, SIZE) and image.mode == "L"
    data = page_data(predict_page)
    assert {c["k"]: c["t"] for c in data["cards"]}[A] == 3 and data["meta"]["size"] == SIZE
    wanted = 0o666 & ~current_umask()
    for path in [predict_page, *thumbs.iterdir()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == wanted, path


def test_page_is_offline_and_holds_no_raw_identifier(predict_page):
    text = predict_page.read_text()
    assert "loading='lazy'" in text and "data:image" not in text  # thumbnails stay files
    assert not re.search(r"(src|href)=[\"']?https?:", text) and 'type="module"' not in text
    assert "DOE^JOHN" not in text and "series_dir" not in text  # paths may name the patient
    assert uid("A") not in text and "PAT0" not in text
    # A description holding "</script>" cannot end the data block.
    assert text.count("</script>") == 2
    assert "ep2d_diff b0 800" in text


# ---- the labels sheet ---------------------------------------------------------------------------


def sheet_cards() -> list[dict]:
    """Six series: one volume; two volumes decided apart; two alike; two of which one is
    decided; one left unlabelled on purpose; one undecided."""
    def card(series, index, of, best):
        return {"k": series if of == 1 else f"{series}.{index}", "s": series, "i": index, "n": of,
                "pred": {t: [best[j], best[j], 0.9, None, None] for j, t in enumerate(TASKS)}}

    return [card("aaaaaaaaaaaaaaa1", 1, 1, ("t2", "axial", "pre")),
            card("aaaaaaaaaaaaaaa2", 1, 2, ("t1_pre", "axial", "pre")),
            card("aaaaaaaaaaaaaaa2", 2, 2, ("t1_pre", "axial", "pre")),
            card("aaaaaaaaaaaaaaa3", 1, 2, ("dwi", "axial", "pre")),
            card("aaaaaaaaaaaaaaa3", 2, 2, ("adc", "axial", "pre")),
            card("aaaaaaaaaaaaaaa4", 1, 2, ("t2", "coronal", "pre")),
            card("aaaaaaaaaaaaaaa4", 2, 2, ("t2", "coronal", "pre")),
            card("aaaaaaaaaaaaaaa5", 1, 1, ("t2", "axial", "pre")),
            card("aaaaaaaaaaaaaaa6", 1, 1, ("t2", "axial", "pre"))]


SHEET_DECISIONS = {
    "aaaaaaaaaaaaaaa1": {"sequence": "t2", "orientation": "axial", "contrast": "pre"},
    "aaaaaaaaaaaaaaa2.1": {"sequence": "t1_pre", "orientation": "axial", "contrast": "pre"},
    "aaaaaaaaaaaaaaa2.2": {"sequence": "t1_arterial", "orientation": "axial", "contrast": "post"},
    "aaaaaaaaaaaaaaa3.1": {"sequence": "dwi", "orientation": "axial", "contrast": "pre"},
    "aaaaaaaaaaaaaaa3.2": {"sequence": "dwi", "orientation": "axial", "contrast": "pre"},
    "aaaaaaaaaaaaaaa4.2": {"sequence": "t2_fs"},
    "aaaaaaaaaaaaaaa5": {"sequence": "", "orientation": "", "contrast": ""},
}

EXPECTED_SHEET = """\
SeriesKey,VolumeIndex,sequence,orientation,contrast,Corrected
aaaaaaaaaaaaaaa1,,t2,axial,pre,
aaaaaaaaaaaaaaa2,1,t1_pre,axial,pre,
aaaaaaaaaaaaaaa2,2,t1_arterial,axial,post,sequence;contrast
aaaaaaaaaaaaaaa3,,dwi,axial,pre,sequence
aaaaaaaaaaaaaaa4,2,t2_fs,,,sequence
"""


def test_labels_sheet_has_series_rows_where_a_series_is_one_class():
    sheet = labels_sheet(sheet_cards(), SHEET_DECISIONS, TASKS)
    assert sheet_text(sheet) == EXPECTED_SHEET


def test_import_of_an_export_gives_back_the_decisions():
    sheet = pd.read_csv(io.StringIO(EXPECTED_SHEET), dtype=str, keep_default_na=False)
    decisions, notes = sheet_decisions(sheet, sheet_cards(), DEFAULT_TAXONOMY, TASKS)
    expected = {key: {t: v for t, v in d.items() if v} for key, d in SHEET_DECISIONS.items()}
    assert decisions == {key: d for key, d in expected.items() if d}
    assert notes == {"rows": 5, "volumes": 6, "not_on_page": 0, "no_series_key": 0,
                     "unknown_class": 0}
    other = pd.DataFrame({"SeriesKey": ["ffffffffffffffff", "", "AAAAAAAAAAAAAAA1"],
                          "SeriesInstanceUID": ["", "1.2.3", ""],
                          "sequence": ["t2", "t2", "t9"], "orientation": ["", "", "axial"],
                          "contrast": ["", "", ""]})
    decisions, notes = sheet_decisions(other, sheet_cards(), DEFAULT_TAXONOMY, TASKS)
    assert decisions == {"aaaaaaaaaaaaaaa1": {"orientation": "axial"}}
    assert notes | {"volumes": 0} == {"rows": 3, "volumes": 0, "not_on_page": 1,
                                      "no_series_key": 1, "unknown_class": 1}


# ---- the generic layout takes SeriesKey ---------------------------------------------------------


def join(sheet_text_: str, table: pd.DataFrame, tmp_path: Path):
    path = tmp_path / "labels.csv"
    path.write_text(sheet_text_)
    return join_labels(table, str(path), "generic", DEFAULT_TAXONOMY, "", True, KEY)


def test_generic_sheet_joins_on_series_key(tmp_path):
    key_a, key_b = pseudonym("1.2.3", KEY), pseudonym("4.5.6", KEY)
    volumes = pd.DataFrame({"series_key": [key_a, key_b, key_b],
                            "volume_key": [key_a, f"{key_b}.1", f"{key_b}.2"],
                            "volume_index": [1, 1, 2]})
    out, qc = join("SeriesKey,SeriesInstanceUID,VolumeIndex,sequence,orientation,contrast\n"
                   f"{key_a.upper()},,,t2,axial,pre\n"
                   ",4.5.6,1,t1_pre,axial,pre\n"
                   f"{key_b},4.5.6,2,t1_arterial,axial,post\n", volumes, tmp_path)
    assert out["label_sequence"].tolist() == ["t2", "t1_pre", "t1_arterial"]
    assert qc["volumes_without_label"] == 0 and qc["label_without_volume"] == 0
    out, _ = join(f"SeriesKey,sequence,orientation,contrast\n{key_b},t2,coronal,pre\n", volumes,
                  tmp_path)
    assert out["label_orientation"].tolist()[1:] == ["coronal", "coronal"]


@pytest.mark.parametrize(("text", "message"), [
    ("SeriesKey,sequence,orientation,contrast\nnot-a-key,t2,axial,pre\n", "not a series key"),
    ("SeriesKey,SeriesInstanceUID,sequence,orientation,contrast\n0123456789abcdef,1.2.3,t2,,\n",
     "another pseudonymisation key"),
    ("SeriesKey,SeriesInstanceUID,sequence,orientation,contrast\n,,t2,,\n", "both empty"),
    ("Series,sequence,orientation,contrast\nx,t2,,\n", "lacks the column SeriesInstanceUID"),
])
def test_generic_sheet_says_what_is_wrong_with_a_series_key(tmp_path, text, message):
    with pytest.raises(LabelsError, match=message):
        join(text, pd.DataFrame({"series_key": ["0123456789abcdef"]}), tmp_path)


ARCHIVE_KEY = "review-archive-key"


def scan(raw: Path, out: Path, labels: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    scan_shard(str(raw), ["patient01"], str(out / "s000.files.parquet"),
               str(out / "s000.rejects.parquet"), "s000", key_env="", key=ARCHIVE_KEY)
    merge_manifests([str(out / "s000.files.parquet")], [str(out / "s000.rejects.parquet")],
                    str(out / "files.parquet"), str(out / "series.parquet"),
                    str(out / "volumes.parquet"), str(out / "rejects.parquet"),
                    str(out / "qc_summary.csv"), labels_path=labels, key_env="", key=ARCHIVE_KEY)
    return pd.read_parquet(out / "volumes.parquet"), pd.read_csv(out / "qc_summary.csv")


def test_an_exported_sheet_labels_the_files_it_came_from(tmp_path):
    """Scan real files (series of several volumes in the vendors' layouts), decide every volume
    on cards built from the scan, export the sheet, and scan the same files again with the sheet
    as their labels: every volume gets the class decided for it."""
    build_archive(tmp_path / "raw")
    volumes, _ = scan(tmp_path / "raw", tmp_path / "first")
    cards = build_cards(volumes, TASKS, {})
    sequences = DEFAULT_TAXONOMY["sequence"]
    decisions = {}
    for card, plane in zip(cards, volumes.set_index("volume_key").loc[
            [c["k"] for c in cards], "header_orientation"], strict=True):
        decisions[card["k"]] = {"sequence": sequences[card["i"] % len(sequences)],
                                "orientation": plane if plane in DEFAULT_TAXONOMY[
                                    "orientation"] else "oblique", "contrast": "pre"}
    sheet = labels_sheet(cards, decisions, TASKS)
    several = volumes[volumes["volumes_in_series"] > 1]
    assert sheet["VolumeIndex"].ne("").sum() == len(several)  # each volume of those a row
    path = tmp_path / "labels.csv"
    path.write_text(sheet_text(sheet))
    labelled, qc = scan(tmp_path / "raw", tmp_path / "second", labels=str(path))
    got = labelled.set_index("volume_key")
    for key, wanted in decisions.items():
        assert tuple(got.loc[key, [f"label_{t}" for t in TASKS]]) == tuple(
            wanted[t] for t in TASKS), key
    qc = qc.set_index("reason")["count"]
    assert qc["volumes_without_label"] == 0 and qc["label_without_volume"] == 0

"""The review page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which .ci/run installs) opens a page built from a fabricated dataset
(tests/review_fixtures.py; no Snakemake run) from ``file://``, relabels volumes with the keyboard
and the mouse, reloads (the decisions stay in local storage), exports the labels sheet (the same
sheet mriseq.review.sheet states), imports it into an emptied page, and takes a screenshot.
Skipped, with the reason, where Selenium or the browser is missing.

``MRISEQ_REVIEW_SCREENSHOT=<path>`` also copies the screenshot there, to look at.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from mriseq.review.page import write_review
from mriseq.review.sheet import labels_sheet, sheet_text
from review_fixtures import SIZE, TASKS, review_kwargs, volume_key, write_dataset

pytestmark = pytest.mark.slow

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
A, B1, B2 = volume_key("A", 1, 1), volume_key("B", 1, 2), volume_key("B", 2, 2)
C, D, E = volume_key("C", 1, 1), volume_key("D", 1, 1), volume_key("E", 1, 1)
# What the key presses below decide (sequence keys: 1 t1_inphase … 3 t2, 4 t2_fs, 5 dwi, 6 adc,
# 7 t1_pre, 8 t1_arterial, 9 t1_portal; orientation: 1 axial, 2 coronal), and the mouse on D.
DECIDED = {
    B2: {"sequence": "t1_portal", "orientation": "axial", "contrast": "post"},
    C: {"sequence": "dwi", "orientation": "axial", "contrast": "pre"},
    E: {"sequence": "t2", "orientation": "coronal", "contrast": "pre"},
    B1: {"sequence": "t1_pre", "orientation": "axial", "contrast": "pre"},
    A: {"sequence": "t2", "orientation": "axial", "contrast": "pre"},
    D: {"sequence": "localizer"},
}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("review_browser")
    paths = write_dataset(root / "results", labelled=False)
    page = root / "review" / "index.html"
    write_review(str(page), str(root / "review" / "thumbs"), **review_kwargs(paths, False))
    return page


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"no browser: {', '.join(missing)} missing (apt-get install chromium "
                    "chromium-driver; .ci/run does)")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--hide-scrollbars",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except Exception as error:  # a browser that cannot start here is a missing browser
        pytest.skip(f"Chromium did not start: {str(error).splitlines()[0]}")
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


def review(driver, call: str):
    return driver.execute_script(f"return window.mriseqReview.{call};")


def press(driver, *keys: str) -> None:
    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def eventually(driver, call: str, wanted, timeout: float = 10):
    """Wait until the page's ``call`` returns ``wanted`` (key events are handled as they come,
    but a loaded machine may be slow to deliver them)."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: review(d, call) == wanted)
    except Exception:
        assert review(driver, call) == wanted


def wait_for_cards(driver, n: int) -> None:
    WebDriverWait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) >= n)


def open_fresh(driver, page: Path) -> None:
    driver.get(page.as_uri())
    driver.execute_script("window.localStorage.clear();")
    driver.refresh()
    wait_for_cards(driver, 6)


def test_relabel_reload_export_import_in_chromium(browser, page, downloads, tmp_path):
    open_fresh(browser, page)
    assert review(browser, "order()") == [B2, C, E, B1, A, D]
    assert review(browser, "focused()") == {"key": B2, "task": "sequence"}
    count = browser.find_element(By.ID, "count").text
    assert count.startswith("6 of 6 volumes left to review"), count

    press(browser, "9", Keys.ENTER)  # B.2: t1_arterial -> t1_portal; accept the rest; next
    press(browser, "5", Keys.ENTER)  # C: t2 -> dwi
    press(browser, "3", Keys.ARROW_RIGHT, "2", Keys.ENTER)  # E: t2_fs -> t2; plane coronal
    press(browser, Keys.ENTER)  # B.1: accept
    press(browser, "4", "z")  # A: t2 -> t2_fs, undone
    eventually(browser, "decisions()", {k: v for k, v in DECIDED.items() if k in (B2, C, E, B1)})
    press(browser, Keys.ENTER)  # A: accept
    # The mouse: D has no prediction; its sequence is chosen from the card's list.
    card_d = browser.find_element(By.CSS_SELECTOR, f".card[data-key='{D}']")
    Select(card_d.find_element(By.CSS_SELECTOR, "tr[data-task='sequence'] select")
           ).select_by_visible_text("localizer")
    eventually(browser, "decisions()", DECIDED)

    browser.refresh()  # the decisions stay in the browser
    wait_for_cards(browser, 6)
    assert review(browser, "decisions()") == DECIDED
    assert review(browser, "saved()") is True
    assert browser.find_element(By.ID, "count").text.startswith("1 of 6 volumes left to review")

    # Export: what the page writes is the sheet mriseq.review.sheet states.
    exported = review(browser, "exportSheet()")
    cards = browser.execute_script(
        "return JSON.parse(document.getElementById('review-data').textContent).cards;")
    assert exported == sheet_text(labels_sheet(cards, DECIDED, TASKS))
    sheet = pd.read_csv(io.StringIO(exported), dtype=str, keep_default_na=False)
    assert set(sheet["SeriesKey"]) == {k.split(".")[0] for k in DECIDED}
    assert sheet.loc[sheet["VolumeIndex"] != "", "VolumeIndex"].tolist() == ["1", "2"]  # B
    browser.find_element(By.ID, "b-export").click()
    sheet_file = downloads / "fabricated_labels.csv"
    deadline = time.monotonic() + 15
    while not sheet_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sheet_file.read_text() == exported

    # Import into an emptied page: the decisions come back from the sheet.
    open_fresh(browser, page)
    assert review(browser, "decisions()") == {}
    upload = browser.find_element(By.ID, "b-import")
    browser.execute_script("arguments[0].style.display = 'block';", upload)
    upload.send_keys(str(sheet_file))
    eventually(browser, "decisions()", DECIDED)
    assert "Imported 6 rows onto 6 volumes" in browser.find_element(By.ID, "notice").text
    press(browser, "z")  # an import is one step to undo
    eventually(browser, "decisions()", {})
    press(browser, "u")  # nothing left to undo: a note, no error
    WebDriverWait(browser, 10).until(
        lambda d: "Nothing to undo" in d.find_element(By.ID, "notice").text)

    # Thumbnails are files beside the page, loaded as the cards come into view.
    open_fresh(browser, page)
    upload = browser.find_element(By.ID, "b-import")
    browser.execute_script("arguments[0].style.display = 'block';", upload)
    upload.send_keys(str(sheet_file))
    eventually(browser, "decisions()", DECIDED)
    browser.execute_script("arguments[0].style.display = '';", upload)
    browser.execute_script("window.localStorage.clear();")  # leave no state behind
    press(browser, Keys.ARROW_DOWN, Keys.ARROW_RIGHT)  # focus C's plane for the picture
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "var img = document.querySelector('.card img'); return img.complete;"))
    width = browser.execute_script("return document.querySelector('.card img').naturalWidth;")
    assert width == 3 * SIZE + 2 * 2
    shot = tmp_path / "review.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("MRISEQ_REVIEW_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["MRISEQ_REVIEW_SCREENSHOT"])
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors

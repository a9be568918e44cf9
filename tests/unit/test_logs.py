"""Job logs capture Python and compiled-code output alike; failures leave their traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from mriseq.logs import log_to


def test_python_and_fd_level_output_land_in_the_log(tmp_path):
    log = tmp_path / "logs" / "job.log"
    # A child process writing to the inherited fd 2 stands in for C++ code (TensorFlow logging).
    with log_to(log):
        print("from python")
        subprocess.run([sys.executable, "-c", "import os; os.write(2, b'from fd 2\\n')"],
                       check=True)
        os.write(1, b"from fd 1\n")
    text = log.read_text()
    assert "from python" in text and "from fd 2" in text and "from fd 1" in text


def test_failure_is_logged_with_traceback(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ValueError), log_to(log):
        raise ValueError("bad input file x.dcm")
    text = log.read_text()
    assert "job failed" in text and "bad input file x.dcm" in text and "Traceback" in text

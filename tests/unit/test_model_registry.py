"""Model families are a registry: the four families are listed without importing TensorFlow, and
bad lists are refused (a family defined outside the package runs through the workflow in
tests/workflow/test_model_registry_workflow.py)."""

from __future__ import annotations

import pytest
from mriseq.models import FamilyError, families, get_family


def test_registry_lists_the_four_families_without_importing_tensorflow():
    import subprocess
    import sys

    found = families()
    assert list(found) == ["fusion", "cnn", "hist_rf", "header_rf"]
    assert found["fusion"].stacks == ("cnn",) and found["fusion"].features == "header"
    assert found["cnn"].gpu and found["cnn"].features is None
    assert {found["hist_rf"].features, found["header_rf"].features} == {"histogram", "header"}
    # The workflow reads the registry at parse time: that must not start TensorFlow (checked in
    # a fresh interpreter, since other tests in this process may have imported it).
    probe = ("import sys; from mriseq.models import families; families(); "
             "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    with pytest.raises(FamilyError, match="'train.models': 'no_such_family'"):
        get_family("no_such_family")
    with pytest.raises(FamilyError, match="'fusion' reads the predictions of cnn; list it too"):
        families(["header_rf", "fusion"])

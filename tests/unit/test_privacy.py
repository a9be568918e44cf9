"""Privacy: keyed, stable, short pseudonyms and the key's source (that no name, ID, birth date or
raw UID reaches any output of a workflow run is checked in tests/workflow/test_privacy_workflow.py).
"""

from __future__ import annotations

from mriseq.scan.privacy import pseudonym, resolve_key


def test_pseudonym_is_keyed_stable_and_short():
    a = pseudonym("1.2.3", b"key-one")
    assert a == pseudonym(" 1.2.3 ", b"key-one") and len(a) == 16
    assert a != pseudonym("1.2.3", b"key-two")
    assert pseudonym("", b"k") is None and pseudonym(None, b"k") is None


def test_key_from_environment_wins(monkeypatch):
    monkeypatch.setenv("MRISEQ_TEST_KEY", "secret")
    assert resolve_key("MRISEQ_TEST_KEY", "fallback") == b"secret"
    monkeypatch.delenv("MRISEQ_TEST_KEY")
    assert resolve_key("MRISEQ_TEST_KEY", "fallback") == b"fallback"

"""Sharding: stable membership, and adding an entry changes exactly one shard."""

from __future__ import annotations

from mriseq.config import resolve_raw_dir
from mriseq.scan.sharding import assign_shards


def test_adding_an_entry_changes_only_its_shard():
    entries = [f"patient_{i:04d}" for i in range(200)]
    before = assign_shards(entries, 16)
    after = assign_shards([*entries, "patient_9999"], 16)
    changed = [name for name in after if after[name] != before.get(name)]
    assert len(changed) == 1
    assert "patient_9999" in after[changed[0]]
    assert sorted(e for members in before.values() for e in members) == sorted(entries)


def test_shards_are_balanced_enough():
    sizes = [len(m) for m in assign_shards([f"{i:04d}" for i in range(1600)], 16).values()]
    assert len(sizes) == 16 and min(sizes) > 60


def test_nested_dlds_root_is_accepted(tmp_path):
    root = tmp_path / "Series_Classification"
    (root / "Series_Classification" / "0001").mkdir(parents=True)
    assert resolve_raw_dir(root, "dlds") == root / "Series_Classification"
    # The quirk is the DLDS layout's: a generic tree that happens to nest is read as written.
    assert resolve_raw_dir(root, "generic") == root
    flat = tmp_path / "flat" / "Series_Classification"
    (flat / "0001").mkdir(parents=True)
    assert resolve_raw_dir(flat, "dlds") == flat

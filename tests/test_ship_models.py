"""scripts/ship_models.py: which pairs may ship, in which role, what they displace, and that a copy is
kept only with the hash its export names."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ship_models  # noqa: E402


def _table() -> dict:
    return {"default": "a", "top_defaults": [{"from_quality": 4.0, "model": "t"}],
            "models": {"a": {"config": "elic-small", "file": "a.pt", "sha256": "A"},
                       "a-enh": {"kind": "enhancer", "codec_sha256": "A", "file": "a-enh.pt", "sha256": "AE"},
                       "t": {"config": "elic-small", "file": "t.pt", "sha256": "T"},
                       "t-enh": {"kind": "enhancer", "codec_sha256": "T", "file": "t-enh.pt", "sha256": "TE"},
                       "t-enh-old": {"kind": "enhancer", "codec_sha256": "T", "file": "t-enh-old.pt", "sha256": "TO"}}}


def _exported() -> dict:
    return {"n": {"config": "elic-small", "file": "n.pt", "sha256": "N", "notes": "export"},
            "n-enh": {"kind": "enhancer", "codec_sha256": "N", "config": "men-small", "file": "n-enh.pt",
                      "sha256": "NE", "source": "ldmrsic"},
            "m-enh": {"kind": "enhancer", "codec_sha256": "M", "config": "men-small", "file": "m-enh.pt",
                      "sha256": "ME", "source": "ldmrsic"}}


def test_a_top_pair_takes_over_the_top_role_and_keeps_the_switch_quality():
    table = _table()
    new = ship_models.register(table, _exported(), "n", "n-enh", "top", "codec notes", "enhancer notes")
    assert new["top_defaults"] == [{"from_quality": 4.0, "model": "n"}] and new["default"] == "a"
    assert new["models"]["n"] == {"config": "elic-small", "file": "n.pt", "sha256": "N", "notes": "codec notes"}
    assert new["models"]["n-enh"]["codec_sha256"] == "N" and new["models"]["n-enh"]["notes"] == "enhancer notes"
    assert table == _table()  # the table it was given is left as it was
    assert ship_models.displaced(table, "top") == ["t", "t-enh", "t-enh-old"]


def test_a_default_pair_takes_over_the_default_and_displaces_only_that_pair():
    new = ship_models.register(_table(), _exported(), "n", "n-enh", "default", "c", "e")
    assert new["default"] == "n" and new["top_defaults"][0]["model"] == "t"
    assert ship_models.displaced(_table(), "default") == ["a", "a-enh"]


def test_a_codec_holding_both_roles_is_not_displaced_by_one():
    table = _table()
    table["top_defaults"][0]["model"] = "a"
    assert ship_models.displaced(table, "top") == [] and ship_models.displaced(table, "default") == []


@pytest.mark.parametrize("codec,enhancer,role,notes,why", [
    ("n", "m-enh", "top", "x", "trained against another codec"),
    ("n", "x-enh", "top", "x", "not in the export folder"),
    ("a", "n-enh", "default", "x", "bundled already"),
    ("n-enh", "n", "top", "x", "must be a codec"),
    ("n", "n-enh", "middle", "x", "use one of default, top"),
    ("n", "n-enh", "top", " ", "say in the notes"),
])
def test_pairs_that_cannot_ship_are_refused_with_the_reason(codec, enhancer, role, notes, why):
    with pytest.raises(ValueError, match=why):
        ship_models.register(_table(), _exported(), codec, enhancer, role, notes, notes)


def test_a_top_pair_needs_a_top_role_to_take_over():
    table = _table()
    del table["top_defaults"]
    with pytest.raises(ValueError, match="no top_defaults"):
        ship_models.register(table, _exported(), "n", "n-enh", "top", "c", "e")


def test_a_copy_is_kept_only_with_the_exported_hash(tmp_path):
    source = tmp_path / "n.pt"
    source.write_bytes(b"weights")
    target = tmp_path / "bundled" / "n.pt"
    target.parent.mkdir()
    with pytest.raises(ValueError, match="does not have the SHA-256"):
        ship_models.copy_verified(source, target, "0" * 64)
    assert list(target.parent.iterdir()) == []  # no partial file left
    ship_models.copy_verified(source, target, hashlib.sha256(b"weights").hexdigest())
    assert target.read_bytes() == b"weights"

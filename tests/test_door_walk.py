"""The door's walk on real folders and links (hyperseg_vfx.door): where a path leads is decided by
the walk that opens it; with roots nothing outside is ever looked at, so a refusal reads the same
whatever is out there; writes go through the walked folder and replace nothing unasked."""

from __future__ import annotations

import os

import pytest

from hyperseg_vfx.door import ANYWHERE, Door, OutputExistsError, PathRefused, Replaceable, temporary_name


@pytest.fixture
def tree(tmp_path):
    """root/ (allowed) with plates/p.exr, a link inside (in -> plates), links out (out -> ../away,
    secret -> ../away/secret.txt, gone -> ../away/missing), a loop; away/ beside it."""
    root, away = tmp_path / "root", tmp_path / "away"
    (root / "plates").mkdir(parents=True)
    away.mkdir()
    (root / "plates" / "p.exr").write_bytes(b"plate")
    (away / "secret.txt").write_text("secret")
    (root / "in").symlink_to("plates")
    (root / "out").symlink_to("../away")
    (root / "secret").symlink_to(away / "secret.txt")
    (root / "gone").symlink_to(away / "missing")
    (root / "loop").symlink_to("loop")
    return root, away


def refusal(door, path):
    with pytest.raises(PathRefused) as caught:
        door.read_bytes(path, "input")
    return caught.value


def test_links_inside_the_root_are_followed_links_out_are_refused_alike(tree):
    root, away = tree
    door = Door([root])
    assert door.read_bytes(root / "in" / "p.exr") == b"plate"
    assert door.real_path(root / "in" / "p.exr") == str(root / "plates" / "p.exr")
    refusals = [refusal(door, root / name) for name in ("secret", "gone", "out/secret.txt", "out/missing",
                                                         "plates/../../away/secret.txt")]
    assert all(r.outside for r in refusals)
    assert {str(r).replace(r.path, "PATH") for r in refusals} == {"PATH is outside the bridge's allowed folders "
                                                                  "(see --allow-root)"}
    assert not refusal(door, root / "loop" / "x").outside  # a loop is the request's fault, not a leak
    assert ANYWHERE.read_bytes(root / "secret") == b"secret"  # the CLI follows the user's links anywhere


def test_a_write_through_a_folder_swapped_for_a_link_lands_nowhere_outside(tree):
    root, away = tree
    door = Door([root])
    door.write_text(root / "m" / "a.txt", "one")  # creates m/ inside the root
    (root / "m").rename(root / "m_before")
    (root / "m").symlink_to(away, target_is_directory=True)
    with pytest.raises(PathRefused):
        door.write_text(root / "m" / "b.txt", "two")
    assert sorted(os.listdir(away)) == ["secret.txt"]


def test_the_no_overwrite_rule_and_non_regular_files(tree):
    root, _away = tree
    door = Door([root])
    target = root / "plates" / "p.exr"
    with pytest.raises(OutputExistsError):
        door.write_text(target, "x")
    with pytest.raises(OutputExistsError, match="is not a plate we wrote"):
        door.write_text(target, "x", replace=Replaceable(lambda path: False, "a plate we wrote"))
    door.write_text(target, "x", replace=Replaceable(lambda path: True, "a plate we wrote"))
    assert target.read_text() == "x"
    os.mkfifo(root / "fifo")
    with pytest.raises(PathRefused, match="FIFO"):
        door.read_bytes(root / "fifo")  # refused at once, not blocked on open
    with pytest.raises(PathRefused, match="FIFO"):
        door.write_text(root / "fifo", "x", replace=True)
    assert door.is_file(root / "plates" / "nothing.exr") is False


def test_stale_temporaries_are_the_doors_only(tree):
    root, away = tree
    door = Door([root])
    folder = root / "plates"
    ours = folder / temporary_name("m.exr")
    ours.write_bytes(b"left over")
    link = folder / temporary_name("m.exr")
    link.symlink_to(away / "secret.txt")
    other = folder / temporary_name("other.exr")
    other.write_bytes(b"another output's")
    users = folder / ".m.abcdefgh.partial.exr"
    users.write_bytes(b"the user's")
    assert door.remove_stale_temporaries(folder, ["m.exr"]) == [str(ours)]
    assert link.is_symlink() and other.exists() and users.exists() and (away / "secret.txt").exists()


def test_a_root_must_exist(tmp_path):
    with pytest.raises(Exception, match="no such folder"):
        Door([tmp_path / "missing"])
    assert not (tmp_path / "missing").exists()

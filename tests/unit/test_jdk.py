from pathlib import Path

import pytest

from newsflow.errors import PrerequisiteMissing
from newsflow.services.jdk import find_jdk, read_jdk


def make_jdk(parent: Path, name: str, version: str) -> Path:
    home = parent / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return home


def test_the_major_version_comes_from_the_release_file(tmp_path):
    assert read_jdk(make_jdk(tmp_path, "jdk17", "17.0.15")).major == 17
    assert read_jdk(make_jdk(tmp_path, "jdk25", "25")).major == 25
    assert read_jdk(make_jdk(tmp_path, "jdk8", "1.8.0_412")).major == 8


def test_a_folder_without_a_jdk_is_not_one(tmp_path):
    assert read_jdk(tmp_path) is None
    (tmp_path / "release").write_text('JAVA_VERSION="21"\n')
    assert read_jdk(tmp_path) is None  # no bin/java


def test_the_newest_jdk_that_is_recent_enough_is_chosen(tmp_path):
    homes = [make_jdk(tmp_path, "a", "17.0.15"), make_jdk(tmp_path, "b", "25.0.1"), make_jdk(tmp_path, "c", "21.0.2")]
    assert find_jdk(21, homes=homes).home == homes[1].resolve()
    assert find_jdk(17, homes=homes).major == 25


def test_only_old_jdks_give_an_error_listing_them(tmp_path):
    homes = [make_jdk(tmp_path, "jdk17", "17.0.15")]
    with pytest.raises(
        PrerequisiteMissing, match=r"no JDK ≥ 21 found \(only Java 17 at .*jdk17\): install one or set NEWSFLOW_JAVA_HOME"
    ):
        find_jdk(21, homes=homes)


def test_no_java_at_all_says_what_to_install(tmp_path):
    with pytest.raises(PrerequisiteMissing, match=r"^Java not found: install a JDK ≥ 21"):
        find_jdk(21, homes=[tmp_path])


def test_an_explicit_java_home_must_be_a_recent_enough_jdk(tmp_path):
    old = make_jdk(tmp_path, "jdk17", "17.0.15")
    with pytest.raises(PrerequisiteMissing, match="is Java 17; the local services need a JDK ≥ 21"):
        find_jdk(21, explicit=old)
    with pytest.raises(PrerequisiteMissing, match="is not a JDK"):
        find_jdk(21, explicit=tmp_path / "nothing")
    assert find_jdk(17, explicit=old).major == 17

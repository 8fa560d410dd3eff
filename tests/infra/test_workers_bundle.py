"""The workers' install bundle: a reproducible pip-built wheel plus cached dependency wheels."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from sqs_blueprint_cdk.workers.bundle import (
    BundleError,
    Target,
    build_bundle,
    build_package_wheel,
    pins,
    requirements_of,
)
from sqs_blueprint_cdk.workers.user_data import ASSETS, render


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip as it runs with no package index: no index, no find-links, no config files."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)


def test_two_builds_of_the_package_wheel_have_one_hash(tmp_path: Path) -> None:
    first = build_package_wheel(tmp_path / "a")
    second = build_package_wheel(tmp_path / "b")
    assert first.name == second.name == "sqs_blueprint-0.1.0-py3-none-any.whl"
    assert digest(first) == digest(second)
    with zipfile.ZipFile(first) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        names = archive.namelist()
    assert "sqs_blueprint-0.1.0.dist-info/entry_points.txt" in names
    assert not any(n.startswith("sqs_blueprint/local/") or "__pycache__" in n for n in names)


def test_the_wheel_declares_the_runtime_dependencies_for_the_instance(tmp_path: Path) -> None:
    """The worker logs through Powertools and its CLI draws with rich: both travel."""
    wheel = build_package_wheel(tmp_path)
    assert sorted(requirements_of(wheel)) == [
        "aws-lambda-powertools<4,>=3",
        "boto3<2,>=1.34",
        "rich<16,>=13",
    ]


def test_dependencies_are_pinned_to_the_tested_versions() -> None:
    assert {"boto3==1.44.5", "botocore==1.44.5", "jmespath==1.1.0"} <= set(pins())
    assert "moto==5.2.5" in pins()  # extras dropped: pip refuses them in constraints


def test_dependencies_come_from_the_cache_on_the_second_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = build_bundle(tmp_path / "one", Target(), cache)
    offline(monkeypatch)
    second = build_bundle(tmp_path / "two", Target(), cache)
    assert [p.name for p in first] == [p.name for p in second]
    assert [digest(p) for p in first] == [digest(p) for p in second]
    names = [p.name for p in second]
    assert "boto3-1.44.5-py3-none-any.whl" in names
    assert "botocore-1.44.5-py3-none-any.whl" in names
    assert "sqs_blueprint-0.1.0-py3-none-any.whl" in names


def test_a_download_that_fails_says_so_and_leaves_no_partial_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    cache = tmp_path / "cache"
    with pytest.raises(BundleError) as error:
        build_bundle(tmp_path / "out", Target(platform="manylinux2014_x86_64"), cache)
    message = str(error.value)
    assert message.startswith("pip download for the workers' bundle failed (exit 1): ")
    assert message.endswith(
        "pip needs the pinned setuptools (requirements-dev.txt) and, on the first synth, a "
        "package index"
    )
    assert list(cache.iterdir()) == []


def test_the_wheels_target_the_python_the_instance_installs() -> None:
    script = (ASSETS / "user-data.sh").read_text()
    version = Target().python_version
    assert f"dnf install -y python{version} python{version}-pip" in script
    assert f"python{version} -m venv /opt/sqs-blueprint/venv" in script
    assert Target.for_arm(False).platform == "manylinux2014_x86_64"
    assert Target.for_arm(True).platform == "manylinux2014_aarch64"


def test_an_asset_rendered_with_the_wrong_placeholders_is_refused() -> None:
    with pytest.raises(ValueError) as error:
        render("sqs-blueprint-drain-on-scale-in.service", region="eu-west-1", extra="x")
    assert str(error.value) == (
        "assets/sqs-blueprint-drain-on-scale-in.service has placeholders ['region'] but was "
        "given ['extra', 'region']; pass exactly the placeholders the file uses"
    )

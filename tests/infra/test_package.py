"""The constructs as a library: the wheel, installed outside the repository, synthesizes
the README's own-app example with the Lambda code bundled from the installed packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ("pyproject.toml", "README.md", "LICENSE", "sqs_blueprint", "sqs_blueprint_cdk")
HANG_GUARD_S = 600  # only stops a hang: a wheel build, a venv and one synth


def _readme_app() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- own-cdk-app -->\n```python\n(.*?)```", readme, re.S)
    assert match, "the README's own-app example (after <!-- own-cdk-app -->) is missing"
    return match.group(1)


def _run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtualenv outside the repository with only the built wheel installed in
    it; the wheel's dependencies (aws-cdk-lib, boto3, ...) are read from this
    environment's site-packages, added as a plain path (so its editable install of this
    checkout is not)."""
    work = tmp_path_factory.mktemp("own-app")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    source = work / "source"  # a clean copy: an in-tree build could carry stale files
    source.mkdir()
    for name in PACKAGED:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--quiet", "--wheel-dir", work / "dist", source, cwd=work, env=env,
    )  # fmt: skip
    _run(sys.executable, "-m", "venv", "--without-pip", work / "venv", cwd=work, env=env)
    python = work / "venv" / "bin" / "python"
    site = Path(
        _run(
            python, "-c", "import site; print(site.getsitepackages()[0])", cwd=work, env=env
        ).strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    [wheel] = (work / "dist").glob("sqs_blueprint-*.whl")
    _run(
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--target", site, wheel, cwd=work, env=env,
    )  # fmt: skip
    # Marks the installed runtime, so a bundle taken from anywhere else shows.
    with (site / "sqs_blueprint" / "write_buffer.py").open("a") as installed_copy:
        installed_copy.write("# the installed copy\n")
    return python, env


def test_the_wheel_carries_the_constructs_and_the_shipped_handlers(
    installed: tuple[Path, dict[str, str]],
) -> None:
    python, env = installed
    where = _run(
        python, "-c",
        "import sqs_blueprint, sqs_blueprint_cdk, sqs_blueprint_cdk.bundling as b; "
        "print(sqs_blueprint.__file__, sqs_blueprint_cdk.__file__, "
        "*sorted(p.name for p in b.HANDLERS_DIR.iterdir()))",
        cwd=python.parents[2], env=env,
    ).split()  # fmt: skip
    venv = str(python.parents[1])
    assert where[0].startswith(venv) and where[1].startswith(venv), where
    assert where[2:] == ["ordered", "responder", "write_buffer"]


def test_your_own_app_synthesizes_from_the_installed_package(
    installed: tuple[Path, dict[str, str]],
) -> None:
    python, env = installed
    app = python.parents[2] / "app"
    app.mkdir()
    (app / "app.py").write_text(_readme_app())
    _run(python, "app.py", cwd=app, env={**env, "CDK_OUTDIR": str(app / "cdk.out")})

    out = app / "cdk.out"
    template = json.loads((out / "Shop.template.json").read_text())
    types = sorted(r["Type"] for r in template["Resources"].values())
    for expected in (
        "AWS::DynamoDB::Table",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Function",
        "AWS::SQS::Queue",
    ):
        assert expected in types, types
    assert types.count("AWS::SQS::Queue") == 2  # the queue and its dead-letter queue
    [function] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    asset = out / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    venv_package = Path(
        _run(
            python, "-c", "import sqs_blueprint; print(sqs_blueprint.__file__)", cwd=app, env=env
        ).strip()
    ).parent
    bundled = asset / "sqs_blueprint" / "write_buffer.py"
    assert bundled.read_bytes() == (venv_package / "write_buffer.py").read_bytes()
    assert bundled.read_text().endswith("# the installed copy\n")
    assert "lambda_handler" in (asset / "handler.py").read_text()
    assert not (asset / "sqs_blueprint" / "local").exists()


def test_the_cdk_extra_pins_what_the_blueprint_synthesizes_with() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = sorted(pyproject["project"]["optional-dependencies"]["cdk"])
    pins = (ROOT / "requirements.txt").read_text().splitlines()
    assert extra == sorted(p for p in pins if p.split("==")[0] in ("aws-cdk-lib", "constructs"))


def test_the_workers_bundle_from_an_installed_copy_says_what_to_do(
    installed: tuple[Path, dict[str, str]],
) -> None:
    python, env = installed
    script = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from sqs_blueprint_cdk.workers.bundle import BundleError, build_package_wheel\n"
        "try:\n"
        "    build_package_wheel(Path(tempfile.mkdtemp()))\n"
        "except BundleError as error:\n"
        "    print(error)\n"
    )
    said = _run(python, "-c", script, cwd=python.parents[2], env=env)
    assert "is an installed copy (no pyproject.toml beside it)" in said, said
    assert "pip install -e '.[cdk]'" in said

"""The Lambda asset: the ``byohpo`` package and its core dependencies, bundled without Docker.

pip can install wheels for another platform: ``--platform``, ``--python-version`` and
``--only-binary=:all:`` fetch the manylinux x86_64 CPython wheels the Lambda runtime runs, from any
machine, in seconds. Docker (the runtime's SAM build image) is only the fallback CDK uses when the
local bundler answers False or pip is missing.

The asset's hash is the package's source, the dependency list and the target runtime: a changed
requirement in ``pyproject.toml`` deploys a new asset even when no source file changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
PACKAGE = "byohpo"
PYPROJECT = ROOT / "pyproject.toml"

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
#: Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels load there, and
#: current numpy and scipy publish nothing older; manylinux2014 finds wheels of older releases.
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
#: In every Lambda Python runtime already: bundling them would only add megabytes.
RUNTIME_PROVIDED = ("boto3", "botocore")
#: Not part of the asset (nor of its hash).
EXCLUDE = ["*.egg-info", "**/__pycache__", "**/*.pyc"]


def python_version(runtime: lambda_.Runtime = RUNTIME) -> str:
    """``"3.13"`` for ``python3.13``."""
    match = re.fullmatch(r"python(\d+\.\d+)", runtime.name)
    if match is None:
        raise ValueError(f"not a Python runtime: {runtime.name}")
    return match[1]


def core_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """``[project].dependencies`` of pyproject.toml, less what the runtime provides."""
    requirements = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [r for r in requirements
            if re.match(r"[A-Za-z0-9._-]+", r)[0].lower() not in RUNTIME_PROVIDED]  # type: ignore[index]


def pip_command(output_dir: str | Path, requirements: Sequence[str], *, version: str,
                platforms: Sequence[str] = PLATFORMS) -> list[str]:
    """``pip install`` of ``requirements`` into ``output_dir`` as wheels for the Lambda platform."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile",  # .pyc of this interpreter's version would be dead weight on the runtime's
            "--target", str(output_dir), "--implementation", "cp", "--python-version", version,
            "--only-binary=:all:", *(f"--platform={p}" for p in platforms), *requirements]


def bundle(output_dir: str | Path, *, requirements: Sequence[str] | None = None,
           version: str | None = None, source: Path = LAMBDAS) -> None:
    """Fill ``output_dir`` with the Lambda asset: the wheels, then the package (no caches)."""
    requirements = core_dependencies() if requirements is None else list(requirements)
    subprocess.run(pip_command(output_dir, requirements, version=version or python_version()), check=True)
    shutil.copytree(source / PACKAGE, Path(output_dir) / PACKAGE, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


@jsii.implements(cdk.ILocalBundling)
class LocalPipBundling:
    """CDK's local bundler: :func:`bundle` into the asset's output folder. Answers False (CDK then
    bundles in Docker) when this Python has no pip."""

    def __init__(self, requirements: Sequence[str], version: str) -> None:
        self.requirements = list(requirements)
        self.version = version

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
            return False
        bundle(output_dir, requirements=self.requirements, version=self.version)
        return True


def asset_hash(requirements: Sequence[str], version: str, source: Path = LAMBDAS) -> str:
    """The package's source fingerprint (what CDK would hash), the requirements and the target."""
    source_hash = cdk.FileSystem.fingerprint(str(source), exclude=EXCLUDE)
    target = json.dumps([source_hash, list(requirements), version, list(PLATFORMS)])
    return hashlib.sha256(target.encode()).hexdigest()


def lambda_code() -> lambda_.Code:
    """The one asset every byohpo Lambda runs: ``lambdas/`` bundled by :class:`LocalPipBundling`, or in
    the runtime's build image when local bundling is not possible."""
    requirements, version = core_dependencies(), python_version()
    docker = (f"pip install --no-cache-dir --target /asset-output {shlex.join(requirements)}"
              f" && cp -r /asset-input/{PACKAGE} /asset-output/")
    return lambda_.Code.from_asset(
        str(LAMBDAS), exclude=EXCLUDE,
        asset_hash_type=cdk.AssetHashType.CUSTOM, asset_hash=asset_hash(requirements, version),
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image, command=["bash", "-c", docker],
            local=LocalPipBundling(requirements, version)))

"""Bundle the function's asset without Docker: manylinux wheels for the target, plus the parts
of `ipaudit` the function runs (an explicit allow-list: not the CLI, not the simulators).

pip can install wheels for another platform and Python (`--platform ... --only-binary=:all:`),
which is all a Lambda bundle of pure-Python and manylinux packages needs. The installed
dependencies are cached under `.cache/lambda-deps/`, keyed on the requirements file's content,
the platform and the Python version, so repeated synths copy instead of downloading.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """`BundlingOptions(local=...)`: pip-installs `requirements.txt` and copies the allow-listed
    modules and subpackages of the package."""

    def __init__(
        self,
        asset_root: Path,
        *,
        package: str,
        include: Sequence[str],
        architecture: str,
        python_version: str,
        cache_root: Path,
    ) -> None:
        self._asset_root = asset_root
        self._package = package
        self._include = tuple(include)
        self._platform = PLATFORMS[architecture]
        self._python_version = python_version
        self._cache_root = cache_root

    def try_bundle(self, output_dir: str, *, image: Any = None, **_: Any) -> bool:
        if importlib.util.find_spec("pip") is None:
            return False  # CDK then falls back to the Docker bundling image
        output = Path(output_dir)
        shutil.copytree(self.dependencies(), output, dirs_exist_ok=True)
        copy_allowed(self._asset_root / self._package, output / self._package, self._include)
        return True

    def dependencies(self) -> Path:
        """The cached `pip install --target` of the requirements for this platform."""
        requirements = self._asset_root / "requirements.txt"
        key = hashlib.sha256(
            requirements.read_bytes() + f"{self._platform} {self._python_version}".encode()
        ).hexdigest()[:16]
        cached = self._cache_root / f"{self._platform}-py{self._python_version}-{key}"
        if cached.is_dir():
            return cached
        self._cache_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._cache_root))
        try:
            _pip_install(requirements, staging, self._platform, self._python_version)
            # Concurrent synths may race here: whoever renames first wins, the other discards.
            try:
                os.rename(staging, cached)
            except OSError:
                if not cached.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cached


def copy_allowed(package: Path, target: Path, include: Sequence[str]) -> None:
    """Copy the package's allow-listed files and subpackages (paths relative to it)."""
    for relative in include:
        source = package / relative
        if source.is_dir():
            shutil.copytree(source, target / relative, ignore=_JUNK)
        elif source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
        else:
            raise FileNotFoundError(
                f"bundling the Lambda asset: {source} is allow-listed but missing"
            )


def docker_copy_command(package: str, include: Sequence[str]) -> str:
    """The same allow-list as a shell command, for the Docker fallback (no local pip)."""
    paths = " ".join(f"{package}/{relative}" for relative in include)
    return (
        f"cp -r --parents {paths} /asset-output/"
        " && find /asset-output -name __pycache__ -prune -exec rm -rf {} +"
    )


def _pip_install(requirements: Path, target: Path, platform: str, python_version: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--requirement", str(requirements),
        "--target", str(target),
        "--platform", platform,
        "--implementation", "cp",
        "--python-version", python_version,
        "--only-binary=:all:",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = " ".join(result.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"bundling the Lambda asset: pip install for {platform} failed: {tail}")

"""The Lambda asset, bundled without Docker and tried on the runtime's Python version.

    python tests/benchmarks/lambda_asset.py [PYTHON]   # PYTHON: an interpreter of the runtime's version

Bundles ``lambdas/`` as the stack does (pip for manylinux x86_64 and the runtime's CPython), reports its
size unzipped (Lambda's limit: 250 MB) and zipped, then — when an interpreter of the runtime's version
is given or found on PATH (``python3.13``) — installs boto3 beside it (the runtime provides it), imports
every handler and every strategy from the asset alone, and proposes a generation of the digits example.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from infra import bundling  # noqa: E402

CHECK = f"""
import json, time
started = time.perf_counter()
import byohpo.handlers.start, byohpo.handlers.propose, byohpo.handlers.evaluate, byohpo.handlers.finalize
from byohpo.request import parse_request
from byohpo.strategies import BUILTIN, strategy_class
for name in BUILTIN:
    strategy_class(name)
imported = time.perf_counter() - started
request = parse_request(json.load(open({str(ROOT / "examples" / "digits" / "ga.json")!r})))
batch = request.build_strategy().propose([], 6)
print(f"imports {{imported:.1f}} s; {{len(BUILTIN)}} strategies; proposed {{len(batch)}} trials")
"""


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    version = bundling.python_version()
    python = sys.argv[1] if len(sys.argv) > 1 else shutil.which(f"python{version}")
    with tempfile.TemporaryDirectory(prefix="byohpo-asset-") as tmp:
        asset, runtime = Path(tmp, "asset"), Path(tmp, "runtime")
        started = time.perf_counter()
        bundling.bundle(asset)
        seconds = time.perf_counter() - started
        archive = Path(tmp, "asset.zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(asset.rglob("*")):
                out.write(path, path.relative_to(asset))
        print(f"bundled {bundling.core_dependencies()} for {bundling.RUNTIME.name} in {seconds:.0f} s: "
              f"{size(asset) / 2**20:.0f} MiB unzipped (Lambda's limit: 250), "
              f"{archive.stat().st_size / 2**20:.0f} MiB zipped")
        if not python:
            print(f"no python{version} found: pass one to import the asset with the runtime's version")
            return
        subprocess.run(bundling.pip_command(runtime, ["boto3"], version=version), check=True)
        subprocess.run([python, "-c", CHECK], check=True, cwd=tmp,
                       env={"PYTHONPATH": f"{asset}:{runtime}", "PATH": "/usr/bin:/bin"})


if __name__ == "__main__":
    main()

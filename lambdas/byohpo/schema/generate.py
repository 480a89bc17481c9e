"""Write ``request.schema.json`` from the installed botocore's SageMaker model and byohpo's extensions.

    python -m byohpo.schema.generate          # rewrite the file
    python -m byohpo.schema.generate --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from byohpo.schema.build import SCHEMA_FILE, build_schema

SCHEMA_PATH = Path(__file__).with_name(SCHEMA_FILE)


def render() -> str:
    """The schema file's exact text."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m byohpo.schema.generate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the file is up to date")
    args = parser.parse_args(argv)
    text = render()
    current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
    if args.check:
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run python -m byohpo.schema.generate", file=sys.stderr)
            return 1
        return 0
    if current != text:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

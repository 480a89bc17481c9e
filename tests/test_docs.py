"""What the package says about itself points only at what its users have."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lambdas" / "byohpo"


def test_no_module_points_to_a_design_document_users_do_not_have() -> None:
    mentions = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                if "DESIGN.md" in path.read_text(encoding="utf-8")]
    assert mentions == []

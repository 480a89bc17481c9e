"""A user's own strategy, brought three ways: the ``byohpo.strategies`` entry-point group, a
``"module:Class"`` name, and ``register_strategy``; and the errors a user meets on the way.

The plugin is a real module written into tmp_path; sys.path, sys.modules and the registry are restored
by monkeypatch, so nothing leaks into other tests.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ACCURACY, run_loop, synthetic_accuracy

import byohpo
from byohpo import SearchSpace, UnknownStrategyError, ValidationError
from byohpo.strategies import BUILTIN

MODULE = "byohpo_user_plugin"

PLUGIN = '''
"""A user's strategy: an additive-recurrence (Kronecker) sequence, shifted by the seed."""
import math

import byohpo
from byohpo.strategies.base import check_float


class Kronecker(byohpo.Strategy):
    """Kronecker sequence search.

    Args:
        shift: added to every coordinate before wrapping into [0, 1) (default 0.5).
    """

    def __init__(self, space, objectives, *, seed, shift=0.5):
        super().__init__(space, objectives, seed=seed)
        self.shift = check_float("shift", shift, 0.0, 1.0)

    def propose(self, history, n):
        alphas = [math.sqrt(p) % 1 for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)[: self.space.dims]]
        out = []
        for i in range(len(history), len(history) + max(n, 1)):
            u = [(self.shift + self.seed * 0.1 + (i + 1) * a) % 1 for a in alphas]
            out.append(byohpo.Candidate(self.space.decode(u), {"i": i}))
        return out


class NoPropose:
    def __init__(self, space, objectives, *, seed):
        pass
'''


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path holding the plugin module, on sys.path; the module is forgotten afterwards."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))  # also invalidates importlib's caches
    # Recorded as absent, so teardown removes whatever the test imports under this name.
    monkeypatch.setitem(sys.modules, MODULE, None)
    del sys.modules[MODULE]
    # register_strategy writes a process-wide registry: give the test its own copy.
    monkeypatch.setattr(byohpo.strategies, "_registered", dict(byohpo.strategies._registered))
    return tmp_path


def write_distribution(where: Path, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds it on sys.path: a dist-info folder."""
    dist_info = where / "byohpo_user_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: byohpo-user-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[byohpo.strategies]\n{entry_points}\n")
    importlib.invalidate_caches()


def runs(name: str, space: SearchSpace, **options: object) -> None:
    strategy = byohpo.make_strategy(name, space, [ACCURACY], seed=3, options=options or None)
    assert type(strategy).__name__ == "Kronecker"
    history = run_loop(strategy, synthetic_accuracy, generations=3, n=4)
    assert len(history) == 12 and [t.meta["i"] for t in history] == list(range(12))


def test_entry_point(plugin_dir: Path, blog_space: SearchSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as mp:
        (plugin_dir / "site").mkdir()
        mp.syspath_prepend(str(plugin_dir / "site"))
        write_distribution(plugin_dir / "site", f"kronecker = {MODULE}:Kronecker")
        assert "kronecker" in byohpo.strategy_names()
        assert byohpo.strategy_names()[: len(BUILTIN)] == list(BUILTIN)  # built-ins keep their order
        runs("kronecker", blog_space, Shift=0.25)
        runs("kronecker", blog_space, shift=0.25)
    importlib.invalidate_caches()
    assert "kronecker" not in byohpo.strategy_names()


def test_module_class_name(plugin_dir: Path, blog_space: SearchSpace) -> None:
    runs(f"{MODULE}:Kronecker", blog_space)
    assert f"{MODULE}:Kronecker" not in byohpo.strategy_names()  # resolvable, not listed


def test_register_strategy(plugin_dir: Path, blog_space: SearchSpace) -> None:
    module = importlib.import_module(MODULE)
    byohpo.register_strategy("mine", module.Kronecker)
    assert "mine" in byohpo.strategy_names()
    runs("mine", blog_space, Shift=0.75)


def test_unknown_option_of_a_plugin(plugin_dir: Path, blog_space: SearchSpace) -> None:
    with pytest.raises(ValidationError) as info:
        byohpo.make_strategy(f"{MODULE}:Kronecker", blog_space, [ACCURACY], seed=1, options={"Shfit": 0.1})
    assert [e.path for e in info.value.errors] == ["StrategyConfig.Shfit"]
    assert "Shift" in str(info.value)  # the accepted options are listed
    with pytest.raises(ValidationError, match=r"StrategyConfig\.Shift"):
        byohpo.make_strategy(f"{MODULE}:Kronecker", blog_space, [ACCURACY], seed=1, options={"Shift": 2})


@pytest.mark.parametrize("name, message", [
    (f"{MODULE}:Missing", "cannot load strategy"),
    ("byohpo_no_such_module:Kronecker", "cannot load strategy"),
    (f"{MODULE}:NoPropose", "has no propose"),
])
def test_bad_module_class_name(plugin_dir: Path, blog_space: SearchSpace, name: str, message: str) -> None:
    with pytest.raises(UnknownStrategyError, match=message) as info:
        byohpo.make_strategy(name, blog_space, [ACCURACY], seed=1)
    assert [e.path for e in info.value.errors] == ["Strategy"]


def test_broken_entry_point(plugin_dir: Path, blog_space: SearchSpace) -> None:
    write_distribution(plugin_dir, "broken = byohpo_no_such_module:Thing")
    assert "broken" in byohpo.strategy_names()
    with pytest.raises(UnknownStrategyError, match="cannot load strategy 'broken'"):
        byohpo.make_strategy("broken", blog_space, [ACCURACY], seed=1)


def test_register_refuses_a_class_without_propose(plugin_dir: Path) -> None:
    module = importlib.import_module(MODULE)
    with pytest.raises(TypeError, match="no propose"):
        byohpo.register_strategy("nope", module.NoPropose)
    with pytest.raises(ValueError, match="built-in"):
        byohpo.register_strategy("random", module.Kronecker)
    assert "nope" not in byohpo.strategy_names()


def test_unknown_name_lists_the_known_ones(plugin_dir: Path, blog_space: SearchSpace) -> None:
    assert "mine" not in byohpo.strategy_names()  # test_register_strategy's registration is gone
    byohpo.register_strategy("mine", importlib.import_module(MODULE).Kronecker)
    with pytest.raises(UnknownStrategyError) as info:
        byohpo.make_strategy("no-such-strategy", blog_space, [ACCURACY], seed=1)
    message = str(info.value)
    assert message.startswith("Strategy: unknown strategy 'no-such-strategy'")
    for name in [*BUILTIN, "mine"]:
        assert name in message
    assert "package.module:Class" in message

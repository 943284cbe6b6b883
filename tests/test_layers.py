"""Layers read one way: data -> models -> distill/teachers/quality -> track -> eval -> train -> capstone/tour.

Every module of the package is parsed (not imported) and each of its imports of ``kdtrack_lite``
-- at the top, inside functions or under ``if TYPE_CHECKING`` -- must reach a layer at or below
its own. Training recipes validate with evaluation, so evaluation never imports a training recipe.
Modules outside the layers (``config``, ``boxes``, ``fileio``, ``cli``, ``viz``, ...) are shared
helpers and are not checked.
"""

import ast
from pathlib import Path

import kdtrack_lite

PACKAGE = Path(kdtrack_lite.__file__).parent
LAYERS = (("data",), ("models",), ("distill", "teachers", "quality"), ("track",), ("eval",), ("train",),
          ("capstone", "tour"))
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
HELPERS = {"viz"}  # sub-packages outside the layers


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool):
    """``(line, absolute module name)`` of every ``kdtrack_lite`` import in ``tree``, anywhere in it."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "kdtrack_lite")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "kdtrack_lite":
                continue
            if node.module is None or target == "kdtrack_lite":  # `from . import train` names modules
                yield from ((node.lineno, f"{target}.{a.name}") for a in node.names)
            else:
                yield node.lineno, target


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in ``source`` (the text of ``module``) that reach a layer above the module's own."""
    own = layer(module)
    if own is None:
        return []
    bad = []
    for line, target in imported_modules(ast.parse(source), module, is_package):
        other = layer(target)
        if other is not None and RANK[other] > RANK[own]:
            bad.append(f"{module}:{line} imports {target} ({own} -> {other})")
    return bad


def package_modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_every_sub_package_has_a_layer():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages - set(RANK) - HELPERS == set(), "place a new sub-package in LAYERS (or HELPERS)"


def test_no_module_imports_from_a_layer_above_its_own():
    bad = [msg for path in package_modules()
           for msg in upward_imports(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")]
    assert bad == [], "imports against the layer order:\n" + "\n".join(bad)


def test_the_check_sees_imports_inside_functions_and_every_import_form():
    source = ("from ..train.mot import make_mot_split\n"
              "import kdtrack_lite.capstone\n"
              "def run():\n"
              "    from .. import tour\n"
              "    from kdtrack_lite.train import sot\n"
              "    from .mot import evaluate_mot\n"        # same layer
              "    from ..track.pipeline import MOTPipeline\n")  # a layer below
    bad = upward_imports(source, "kdtrack_lite.eval.example")
    assert [b.split(" imports ")[1] for b in bad] == [
        "kdtrack_lite.train.mot (eval -> train)", "kdtrack_lite.capstone (eval -> capstone)",
        "kdtrack_lite.tour (eval -> tour)", "kdtrack_lite.train (eval -> train)"]
    assert upward_imports("from . import mot\n", "kdtrack_lite.train", is_package=True) == []
    assert upward_imports("from ..eval.mot_protocol import evaluate_detector\n", "kdtrack_lite.train.mot") == []

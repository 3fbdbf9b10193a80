"""The dataset recipes. Every module here that defines ``RECIPE`` (a Recipe subclass) is registered."""

from __future__ import annotations

import importlib
import pkgutil

from segprep.datasets.base import Recipe

_registry: dict[str, type[Recipe]] | None = None


def registry() -> dict[str, type[Recipe]]:
    """Dataset name -> recipe class, sorted by name."""
    global _registry
    if _registry is None:
        found: dict[str, type[Recipe]] = {}
        for module_info in pkgutil.iter_modules(__path__):
            if module_info.name == "base":
                continue
            module = importlib.import_module(f"{__name__}.{module_info.name}")
            recipe = getattr(module, "RECIPE", None)
            if recipe is not None:
                found[recipe.NAME] = recipe
        _registry = dict(sorted(found.items()))
    return _registry


def get(name: str) -> Recipe:
    recipes = registry()
    if name not in recipes:
        from segprep.errors import SegprepError

        raise SegprepError(f"unknown dataset '{name}'; known: {', '.join(recipes)}")
    return recipes[name]()


def compiled_codecs(name: str) -> bool:
    """Whether the recipe ``name`` uses the compiled codecs ("all": some do), importing only its own
    package (the command line asks before it imports every recipe)."""
    if name == "all":
        return True
    try:
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    except ImportError:
        return False
    recipe = getattr(module, "RECIPE", None)
    return bool(recipe is not None and recipe.NAME == name and recipe.COMPILED_CODECS)

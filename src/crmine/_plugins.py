"""Discovery of the modules in a plug-in package (report sections, CLI commands, pipeline steps).

Each analysis adds one module to the package; importing the package's modules is what
registers them, so no shared file needs editing when an analysis is added.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["import_plugins"]


def import_plugins(package: str) -> list[ModuleType]:
    """Import every module of ``package`` in name order and return them."""
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{package}.{name}") for name in names]

"""The docstring examples run as doctests with a plain ``pytest`` (issue 11, item 6)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "crmine"


def test_pytest_collects_the_package_doctests() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "src/crmine" in options["testpaths"]
    with_examples = [p for p in SRC.rglob("*.py") if ">>> " in p.read_text("utf-8")]
    assert len(with_examples) >= 20
    # Skipped examples are the exception (those that need a loaded warehouse).
    skipped = [p for p in with_examples
               if re.search(r">>> .*doctest: *\+SKIP", p.read_text("utf-8"))]
    assert len(skipped) <= 3, [str(p.relative_to(SRC)) for p in skipped]


def test_every_module_imports_without_java_or_spark() -> None:
    """Doctest collection imports every module: none may need Java or start Spark."""
    code = (
        "import importlib, pkgutil, sys, crmine\n"
        "for m in pkgutil.walk_packages(crmine.__path__, 'crmine.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('pyspark', 'py4j')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME")}
    env["PATH"] = str(Path(sys.executable).parent)  # no java on the path
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"

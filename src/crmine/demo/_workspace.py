"""Loading a synthetic company into a workspace (``crmine demo``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from crmine.config import CONFIG_FILE, Config, load_config
from crmine.exceptions import WorkspaceError
from crmine.warehouse import LoadReport, Workspace, ingest

__all__ = ["LOAD_ORDER", "build_demo_workspace", "is_demo"]

# Dimensions before the facts that reference them.
LOAD_ORDER = (
    "customers",
    "products",
    "orders",
    "campaigns",
    "campaign_assignments",
    "events",
    "tickets",
    "subscriptions",
    "surveys",
    "marketing_spend",
    "marketing_outcomes",
    "promotion_calendar",
    "holidays",
)


def is_demo(config: Config) -> bool:
    """Whether a workspace's configuration is a demo's (which ``crmine demo`` may replace)."""
    return isinstance(config.extra.get("demo"), dict) or "demo_seed" in config.settings


def build_demo_workspace(
    folder: str | Path,
    *,
    n_customers: int = 10_000,
    seed: int = 0,
    overwrite: bool = True,
    on_load: Callable[[str], None] | None = None,
    signal: bool = True,
    identity_sources: bool = False,
    encrypt: bool = False,
) -> tuple[Workspace, list[LoadReport]]:
    """Create a workspace holding a synthetic company, its planted truth and its RFM mart.

    Every table goes through the normal ingest (so the demo exercises the real warehouse);
    the ground truth lands in schema ``truth`` for tests and users to check analyses against.
    ``signal=False`` loads the company with nothing to find (see :func:`crmine.demo.generate`).
    The ``[demo]`` table of crmine.toml records how the company was generated.
    ``identity_sources=True`` also loads a shop's and a help desk's customer records naming
    the same people differently (sources ``demo:shop``, ``demo:helpdesk``) and their truth,
    ``truth.identity``, for ``crmine identity resolve``. ``encrypt=True`` encrypts the
    workspace before anything is loaded (``crmine demo --encrypt``; key as for ``crmine init
    --encrypt``).
    """
    from crmine.demo import generate
    from crmine.features import build_customer_rfm

    root = Path(folder)
    if (root / CONFIG_FILE).exists() and not is_demo(load_config(root)):
        raise WorkspaceError(
            f"{root} holds a crmine workspace that is not a demo; the demo would replace its "
            "warehouse. Choose another folder for the demo."
        )
    if overwrite and (root / "warehouse.duckdb").exists():
        (root / "warehouse.duckdb").unlink()
        for sub in ("models", "reports"):
            shutil.rmtree(root / sub, ignore_errors=True)
    company = generate(n_customers=n_customers, seed=seed, signal=signal,
                       identity_sources=identity_sources)
    ws = Workspace.init(root)
    ws.config.settings["observation_end"] = str(company.observation_end.date())
    ws.config.settings.pop("demo_seed", None)  # where versions before 0.2 kept the marker
    ws.config.extra["demo"] = {"seed": seed, "customers": n_customers, "signal": signal}
    if identity_sources:
        ws.config.extra["demo"]["identity_sources"] = True
    ws.save_config()
    if encrypt and not ws.config.extra.get("privacy", {}).get("encrypted"):
        from crmine.privacy import encrypt_workspace

        encrypt_workspace(ws)
    reports = []
    for entity in LOAD_ORDER:
        frame = company.tables.get(entity)
        if frame is None or frame.empty:
            continue
        if on_load:
            on_load(entity)
        reports.append(ingest(ws, entity, frame, source_name=f"demo:{entity}"))
    for name, frame in company.tables.items():  # further customer sources, after the CRM
        if name.startswith("customers:"):
            source = name.split(":", 1)[1]
            if on_load:
                on_load(source)
            reports.append(ingest(ws, "customers", frame, source_name=f"demo:{source}"))
    for name, frame in company.truth.items():
        ws.write_table(f"truth.{name}", frame)
    build_customer_rfm(ws, observation_end=company.observation_end)
    return ws, reports

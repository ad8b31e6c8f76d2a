"""Erasure from saved models: a model version that holds the people's identifiers (a
segmenter keeping its customers' ids) is deleted; every version trained while they were in
the warehouse is flagged ``needs_refit`` in its metadata; identifiers in metadata (a drift
profile's commonest levels) are masked."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crmine.privacy._subjects import Subjects
from crmine.privacy._tables import MASK
from crmine.warehouse import Workspace
from crmine.warehouse._models import LATEST, METADATA_FILE, MODEL_FILE, read_latest, read_metadata
from crmine.warehouse._sealed import key_for, load_object, write_bytes

__all__ = ["ModelErasure", "erase_from_models", "trained_with"]


@dataclass(slots=True)
class ModelErasure:
    """Model versions deleted (they held the people), flagged for refit, metadata masked."""

    deleted: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The models (analyses) to refit."""
        return sorted({v.split("/")[0] for v in [*self.deleted, *self.flagged]})


def _holds(path: Path, patterns: list[bytes]) -> bool:
    data = pickle.dumps(load_object(path), protocol=4)  # decrypted in memory when sealed
    return any(p in data for p in patterns)


def _mask(value: Any, strong: set[str]) -> tuple[Any, bool]:
    if isinstance(value, dict):
        out, changed = {}, False
        for k, v in value.items():
            key, c1 = _mask(k, strong)
            val, c2 = _mask(v, strong)
            out[key] = val
            changed = changed or c1 or c2
        return out, changed
    if isinstance(value, list):
        pairs = [_mask(v, strong) for v in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    if isinstance(value, str) and value.strip().lower() in strong:
        return MASK, True
    return value, False


def _saved_at(meta: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(meta["saved_at"])).replace(tzinfo=None)
    except (KeyError, ValueError):
        return None


def erase_from_models(ws: Workspace, subjects: Subjects, receipt_id: str,
                      first_seen: dt.datetime | None) -> ModelErasure:  # fmt: skip
    """Delete, flag and mask model versions (see the module's docstring)."""
    done = ModelErasure()
    root = ws.models_dir
    if not root.is_dir():
        return done
    strong = {v.strip().lower() for v in subjects.strong}
    patterns = sorted({v.encode(enc) for v in subjects.strong
                       for enc in ("utf-8", "utf-16-le", "utf-32-le")})  # fmt: skip
    for base in sorted(p for p in root.iterdir() if p.is_dir()):
        latest = read_latest(base)
        for folder in sorted(p for p in base.iterdir() if (p / METADATA_FILE).exists()):
            label = f"{base.name}/{folder.name}"
            if (folder / MODEL_FILE).exists() and _holds(folder / MODEL_FILE, patterns):
                shutil.rmtree(folder)
                done.deleted.append(label)
                if latest == folder.name:  # the next run fits a new one
                    (base / LATEST).unlink(missing_ok=True)
                continue
            meta = read_metadata(folder)
            meta, changed = _mask(meta, strong)
            if changed:
                done.masked.append(label)
            saved = _saved_at(meta)
            if first_seen is None or saved is None or saved >= first_seen:
                privacy = meta.setdefault("privacy", {})
                privacy["needs_refit"] = True
                privacy.setdefault("erasures", []).append(receipt_id)
                done.flagged.append(label)
                changed = True
            if changed:  # atomic, sealed again in an encrypted workspace
                write_bytes(folder / METADATA_FILE, json.dumps(meta, indent=2).encode("utf-8"),
                            key_for(folder))  # fmt: skip
    return done


def trained_with(ws: Workspace, subjects: Subjects) -> list[dict[str, Any]]:
    """Model versions trained while the people were in the warehouse, and whether the saved
    object holds their identifiers."""
    from crmine.privacy._erase import first_seen

    seen = first_seen(ws, subjects)
    patterns = sorted({v.encode(enc) for v in subjects.strong
                       for enc in ("utf-8", "utf-16-le", "utf-32-le")})  # fmt: skip
    out = []
    root = ws.models_dir
    for base in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for folder in sorted(p for p in base.iterdir() if (p / METADATA_FILE).exists()):
            meta = read_metadata(folder)
            saved = _saved_at(meta)
            if seen is not None and saved is not None and saved < seen:
                continue
            holds = (folder / MODEL_FILE).exists() and _holds(folder / MODEL_FILE, patterns)
            out.append({"model": base.name, "version": folder.name,
                        "saved_at": meta.get("saved_at"), "holds_identifiers": holds})  # fmt: skip
    return out

"""Verdicts of pure checks kept across runs: a JSON map (key → verdict) per kind of check in the cache folder, read
once per process when first needed and written once, atomically, after validation (``save_all``). A key is a hash
of everything the verdict depends on, so a verdict never goes stale. A read-only or missing cache only costs speed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

_STORES: list["VerdictStore"] = []


class VerdictStore:
    def __init__(self, path: Callable[[], Path]) -> None:
        self._path = path  # called late: the cache folder depends on the environment
        self.data: dict[str, object] = {}
        self._saved: int | None = None  # number of verdicts on disk (None until read)
        _STORES.append(self)

    def load(self) -> dict[str, object]:
        """The verdicts, read from disk on first use."""
        if self._saved is None:
            try:
                self.data.update(json.loads(self._path().read_text(encoding="utf-8")))
            except (OSError, ValueError):
                pass
            self._saved = len(self.data)
        return self.data

    def save(self) -> None:
        if self._saved is None or len(self.data) == self._saved:
            return
        target = self._path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(self.data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, target)
            self._saved = len(self.data)
        except OSError:
            pass


def save_all() -> None:
    for store in _STORES:
        store.save()

"""Errors a user can fix. The CLI prints them as one line and exits 2; nothing else is a user error."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment: one line, exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(UserError):
    """A fleet-file problem at an exact config path, e.g. ``clusters[1].zone``."""

    def __init__(self, path: str, message: str, file: str | None = None) -> None:
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{path or '<root>'}: {message}")
        self.path = path
        self.detail = message


def format_path(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out

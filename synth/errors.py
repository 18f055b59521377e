"""Errors a user can fix. The CLI prints them as one line and exits 2; nothing else is a user error."""

from __future__ import annotations

import json
import re


class UserError(Exception):
    """Bad input or environment: one line, exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(UserError):
    """A fleet-file problem at an exact config path, e.g. ``clusters[1].zone``."""

    def __init__(self, path: str, message: str, file: str | None = None, rule: str = "schema") -> None:
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{path or '<root>'}: {message}")
        self.path = path
        self.detail = message
        self.rule = rule  # the rule of synth.config.rules that refused the file ("schema" before them)


class ConfigErrors(ConfigError):
    """Every problem of a fleet file, one line each (all of them are reported in one run)."""

    def __init__(self, problems: "list[ConfigError]") -> None:
        first = problems[0]
        super().__init__(first.path, first.detail, None, rule=first.rule)
        self.problems = list(problems)
        self.message = "\n".join(p.message for p in self.problems)
        self.args = (self.message,)
        self.rules = [p.rule for p in self.problems]


def raise_all(problems: "list[ConfigError]") -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigErrors(problems)


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_/-]+$")


def format_path(parts) -> str:
    """``clusters[1].zone``; keys that are not plain words are quoted: ``server["bad key"]``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _PLAIN_KEY.match(str(p)):
            out += f".{p}" if out else str(p)
        else:
            out += f"[{json.dumps(str(p), ensure_ascii=True)}]"
    return out


def quote(text: object) -> str:
    """User text inside a one-line message: quoted, escaped, shortened."""
    s = json.dumps(str(text), ensure_ascii=True)
    return s if len(s) <= 60 else s[:56] + '..."'


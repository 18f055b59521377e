"""The README's fleet-file reference, generated from schemas/fleet.schema.json (`make docs`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .config.loader import fleet_schema

START, END = "<!-- fleet-reference:start -->", "<!-- fleet-reference:end -->"
RULES_START, RULES_END = "<!-- rules:start -->", "<!-- rules:end -->"
CONFIG_RULES_START, CONFIG_RULES_END = "<!-- config-rules:start -->", "<!-- config-rules:end -->"


def _type(node: dict) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type", "")
    if t == "array":
        return f"list of {_type(node.get('items', {}))}" if node.get("items", {}).get("type") != "object" else "list of mappings"
    return t


def _rows(node: dict, prefix: str, required: set[str], root: dict | None = None, seen: dict | None = None) -> list[str]:
    """Rows of ``node``'s keys. A ``$ref`` is documented in full the first time (at the top level) and then named:
    ``models[].server`` has the same keys as ``server``."""
    from .config.defaults import resolve

    root = root if root is not None else node
    seen = seen if seen is not None else {}
    rows = []
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        if "$ref" in sub:
            ref = sub["$ref"]
            target = resolve(sub, root)
            if ref in seen:
                rows.append(f"| `{path}` | mapping | {'required' if key in required else ''} | The same keys as `{seen[ref]}`. |")
                continue
            seen[ref] = path
            sub = target
        default = sub.get("default")
        if sub.get("type") == "object" and "properties" in sub:
            rows.append(f"| `{path}` | mapping | {'required' if key in required else ''} | {sub.get('description', '')} |")
            rows += _rows(sub, path + ".", set(sub.get("required", [])), root, seen)
            continue
        if sub.get("type") == "array" and sub.get("items", {}).get("type") == "object":
            shown = "required" if key in required else (f"`{json.dumps(default)}`" if default is not None else "")
            rows.append(f"| `{path}` | list of mappings | {shown} | {sub.get('description', '')} |")
            rows += _rows(sub["items"], path + "[].", set(sub["items"].get("required", [])), root, seen)
            continue
        shown = "required" if key in required else (f"`{json.dumps(default)}`" if default is not None else "")
        desc = sub.get("description", "")
        if "pattern" in sub and "enum" not in sub:
            desc += f" Pattern `{sub['pattern']}`."
        desc = desc.replace("|", "\\|")
        rows.append(f"| `{path}` | {_type(sub)} | {shown} | {desc} |")
    return rows


def reference() -> str:
    schema = fleet_schema()
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += _rows(schema, "", set(schema.get("required", [])))
    return "\n".join(lines).replace("|  |", "| |")


def rules_table() -> str:
    """Every validator rule by layer, in the order the layers run."""
    from .validate.registry import ENGINE_RULES, LAYERS

    rows = ["| layer | rule id | holds when |", "|---|---|---|"]
    rows += [f"| schemas | `{k}` | {v} |" for k, v in ENGINE_RULES.items()]
    for title, module in LAYERS:
        rows += [f"| {title} | `{k}` | {v.replace('|', chr(92) + '|')} |" for k, v in module.RULES.items()]
    return "\n".join(rows)


def config_rules_table() -> str:
    """The fleet-file rules beyond the schema (synth/config/rules.py), in the order they run."""
    from .config.rules import HOLDS

    return "\n".join(["| rule id | holds when |", "|---|---|"] + [f"| `{k}` | {v.replace('|', chr(92) + '|')} |" for k, v in HOLDS.items()])


def update_readme(readme: Path) -> bool:
    text = readme.read_text(encoding="utf-8")
    new = text
    for start, end, body in ((START, END, reference()), (RULES_START, RULES_END, rules_table()),
                             (CONFIG_RULES_START, CONFIG_RULES_END, config_rules_table())):
        block = f"{start}\n{body}\n{end}"
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _, b=block: b, new, flags=re.S)
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    update_readme(Path(__file__).resolve().parents[1] / "README.md")

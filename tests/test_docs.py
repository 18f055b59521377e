"""The README's fleet-file reference matches the schema (`make docs` regenerates it)."""

from synth.docs import (CONFIG_RULES_END, CONFIG_RULES_START, END, RULES_END, RULES_START, START, config_rules_table, reference,
                        rules_table)
from tests.conftest import REPO


def test_readme_reference_is_current():
    text = (REPO / "README.md").read_text()
    section = text.split(START)[1].split(END)[0].strip()
    assert section == reference(), "README fleet reference is stale: run `make docs`"
    rules = text.split(RULES_START)[1].split(RULES_END)[0].strip()
    assert rules == rules_table(), "README rule table is stale: run `make docs`"
    config_rules = text.split(CONFIG_RULES_START)[1].split(CONFIG_RULES_END)[0].strip()
    assert config_rules == config_rules_table(), "README fleet-file rule table is stale: run `make docs`"


def test_every_schema_key_is_documented():
    from synth.config.defaults import resolve
    from synth.config.loader import fleet_schema

    root = fleet_schema()

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            sub = resolve(sub, root)
            assert sub.get("description"), f"{path}{key} has no description"
            if sub.get("type") == "object":
                walk(sub, f"{path}{key}.")
            if sub.get("type") == "array" and sub.get("items", {}).get("type") == "object":
                walk(sub["items"], f"{path}{key}[].")

    walk(root, "")


def test_makefile_names_existing_test_files():
    import re

    for path in re.findall(r"tests/[\w/]+\.py", (REPO / "Makefile").read_text()):
        assert (REPO / path).is_file(), f"Makefile runs {path}, which does not exist"

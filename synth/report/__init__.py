"""The readable side of a fleet: the plan with its failover table, the operator runbook, the failover drill and
pictures of the topology. All derived from the same ``Fleet`` the manifests come from."""

from __future__ import annotations

from ..config.model import Fleet
from .capacity import all_rows, failover, front_end_failover, region_capacity, upgrade_rows
from .drill import drill_lines, drill_objects
from .plan import plan_lines
from .plan_json import plan_json
from .runbook import runbook
from .topology import dot, mermaid

__all__ = ["all_rows", "dot", "drill_lines", "drill_objects", "failover", "fleet_markdown", "front_end_failover", "mermaid",
           "plan_json", "plan_lines", "region_capacity", "runbook", "upgrade_rows"]


def fleet_markdown(fleet: Fleet, head: str) -> str:
    lines = ["<!-- " + head.replace("\n", " ") + " -->", ""]
    lines += plan_lines(fleet, markdown=True)
    lines += [""] + drill_lines(fleet, markdown=True)
    lines += ["", "## Topology", "", "```mermaid", mermaid(fleet).rstrip(), "```", ""]
    return "\n".join(lines)

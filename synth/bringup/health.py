"""Argo CD health checks for the kinds it does not know.

Argo CD ships Lua health checks for Gateway API and Config Connector kinds but none for InferencePool, ComputeClass
or GKE's policies; without one an object is healthy as soon as it exists, so a RollingSync step (which waits for
Application health) would go on past a pool no controller accepted. These scripts go into ``argocd-cm`` as
``resource.customizations.health.<group>_<Kind>``: Degraded when a controller reports a condition False (the step
stops with its reason), Healthy otherwise."""

from __future__ import annotations

# What GKE writes into these statuses is not documented for every case (an exported pool in a cluster whose Gateway
# lives elsewhere may carry no parents at all), so an object no controller has reported on is Healthy: a check that
# waited for a report that never comes would stall the RollingSync for good. A condition reported False is Degraded,
# and stops the rollout with the controller's reason.

# The verdict over a list of conditions, shared by every check: the first False degrades, a True names itself.
_VERDICT = """\
local function verdict(hs, conditions)
  for _, c in ipairs(conditions) do
    if c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.type .. " False: " .. (c.reason or "") .. " " .. (c.message or "")
      return true
    end
    if c.status == "True" then
      hs.message = c.type .. ": " .. (c.message or c.reason or "")
    end
  end
  return false
end
"""

# InferencePool: status.parents[].conditions (Accepted, ResolvedRefs per Gateway; Exported for the fleet).
POOL = _VERDICT + """\
hs = {status = "Healthy", message = "no controller reports a problem with the pool"}
if obj.status ~= nil and obj.status.parents ~= nil then
  for _, parent in ipairs(obj.status.parents) do
    if verdict(hs, parent.conditions or {}) then return hs end
  end
end
return hs
"""

# ComputeClass and GKE's Gateway policies: status.conditions, and per target status.ancestors[].conditions.
CONDITIONS = _VERDICT + """\
hs = {status = "Healthy", message = "GKE reports no problem"}
if obj.status ~= nil then
  if obj.status.conditions ~= nil and verdict(hs, obj.status.conditions) then return hs end
  for _, a in ipairs(obj.status.ancestors or {}) do
    if verdict(hs, a.conditions or {}) then return hs end
  end
end
return hs
"""

# (group, kind) → script, for every kind the output can hold that Argo CD has no health check for.
CHECKS = {
    ("inference.networking.k8s.io", "InferencePool"): POOL,
    ("cloud.google.com", "ComputeClass"): CONDITIONS,
    ("networking.gke.io", "HealthCheckPolicy"): CONDITIONS,
    ("networking.gke.io", "GCPBackendPolicy"): CONDITIONS,
}


def key(group: str, kind: str) -> str:
    return f"resource.customizations.health.{group}_{kind}"

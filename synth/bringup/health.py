"""Argo CD health checks for the kinds it does not know.

Argo CD ships Lua health checks for Gateway API and Config Connector kinds but none for InferencePool, ComputeClass
or GKE's policies; without one an object is healthy as soon as it exists, so a RollingSync step (which waits for
Application health) would go on past a pool no controller accepted. These scripts go into ``argocd-cm`` as
``resource.customizations.health.<group>_<Kind>``: Degraded when a controller reports a condition False, Healthy
when it reports one True, Progressing until it reports anything."""

from __future__ import annotations

# InferencePool: status.parents[].conditions, per Gateway (Accepted, ResolvedRefs) or the multi-cluster export
# (Exported).
POOL = """\
hs = {status = "Progressing", message = "waiting for a controller to accept or export the pool"}
if obj.status ~= nil and obj.status.parents ~= nil then
  for _, parent in ipairs(obj.status.parents) do
    for _, c in ipairs(parent.conditions or {}) do
      if c.status == "False" and (c.type == "Accepted" or c.type == "ResolvedRefs" or c.type == "Exported") then
        hs.status = "Degraded"
        hs.message = c.type .. " False: " .. (c.reason or "") .. " " .. (c.message or "")
        return hs
      end
      if c.status == "True" and (c.type == "Accepted" or c.type == "Exported") then
        hs.status = "Healthy"
        hs.message = c.type .. ": " .. (c.message or c.reason or "")
      end
    end
  end
end
return hs
"""

# ComputeClass and GKE's Gateway policies: status.conditions.
CONDITIONS = """\
hs = {status = "Progressing", message = "waiting for GKE to report the object's status"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.type .. " False: " .. (c.reason or "") .. " " .. (c.message or "")
      return hs
    end
    if c.status == "True" then
      hs.status = "Healthy"
      hs.message = c.type .. ": " .. (c.message or c.reason or "")
    end
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

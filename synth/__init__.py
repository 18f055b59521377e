"""inference-fleet: one fleet file → the Helm charts, Kustomize overlays, GCP objects and delivery objects of a
multi-region LLM inference service on GKE, validated as the API server and GKE would.

The library API (documented in ``inference_fleet.api``; these names follow the package's SemVer)::

    import inference_fleet as fleet
    f = fleet.load_fleet("fleet.yaml")
    plan = fleet.build_plan(f)
    fleet.add_cluster(my_chart, plan, "gemma3-us-east5")
"""

# No imports at run time: `python -m inference_fleet` and the console script run this first, before their signal
# handlers exist (type checkers read the names below; mypy and pyright treat TYPE_CHECKING by name).
TYPE_CHECKING = False

__all__ = ["ConfigError", "ConfigErrors", "Extensions", "Fleet", "Plan", "Problem", "UserError", "ValidationFailed",
           "add_cluster", "build_plan", "cluster_manifests", "load_fleet", "parse_fleet", "read_fleet", "synthesize",
           "validate_fleet"]

if TYPE_CHECKING:
    from .api import (ConfigError, ConfigErrors, Extensions, Fleet, Plan, Problem, UserError, ValidationFailed, add_cluster,
                      build_plan, cluster_manifests, load_fleet, parse_fleet, read_fleet, synthesize, validate_fleet)


def __getattr__(name: str):
    # Loaded on first use: the command line imports this package too and needs none of it to start.
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

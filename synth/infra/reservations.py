"""Reservations the fleet asks to create (a capacity option with ``create``). Off by default: TPU v6e capacity
usually comes as reservations Google sets up, which the ComputeClass then names. A GPU machine type implies its
GPUs (G2, A3 High), so the machine type is the whole instance shape. ``machineType`` is a free string
in ComputeReservation; whether the Compute reservations API accepts on-demand specific reservations of ct6e
machines for a given project is decided by Google when the object is applied."""

from __future__ import annotations

from ..config.model import Fleet
from .common import obj

API = "compute.cnrm.cloud.google.com/v1beta1"


def objects(fleet: Fleet) -> list[dict]:
    out = []
    for m in fleet.models:
        acc = m.server.accelerator
        what = "TPU v6e" if acc.kind == "tpu" else acc.type
        for p in m.placements:
            c = p.cluster
            for opt in p.capacity:
                if opt.type == "reservation" and opt.create:
                    out.append(obj(fleet, API, "ComputeReservation", opt.reservation, {
                        "zone": c.zone, "specificReservationRequired": True,
                        "specificReservation": {"count": opt.create,
                                                "instanceProperties": {"machineType": acc.machine_type}},
                        "description": f"{what} nodes for {fleet.name} in {c.zone}"}))
    return out

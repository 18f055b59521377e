"""AcceleratorComputeClass: TPU capacity options as ComputeClass priorities, with managed DRANET."""

from synth.config.model import Capacity
from synth.constructs.compute_class import priorities
from tests.constructs.helpers import objects


def test_compute_class_tries_on_demand_then_spot_with_dranet():
    cc = objects()[("ComputeClass", "gemma3-27b-tpu")]
    assert "namespace" not in cc["metadata"]  # cluster-scoped
    spec = cc["spec"]
    assert spec["nodePoolAutoCreation"] == {"enabled": True}
    assert spec["whenUnsatisfiable"] == "DoNotScaleUp"
    assert spec["nodePoolConfig"]["dra"] == {"networking": {"enabled": True}}
    assert spec["nodePoolConfig"]["serviceAccount"] == "gemma3-nodes@my-inference-project.iam.gserviceaccount.com"
    first, second = spec["priorities"]
    shape = {"machineType": "ct6e-standard-4t", "tpu": {"type": "tpu-v6e-slice", "count": 4, "topology": "2x2"},
             "acceleratorNetworkProfile": "auto", "location": {"zones": ["us-east5-b"]}}
    assert first == shape and second == {**shape, "spot": True}


def test_without_dranet_no_network_profile():
    spec = objects(server={"dranet": {"enabled": False}})[("ComputeClass", "gemma3-27b-tpu")]["spec"]
    assert "dra" not in spec["nodePoolConfig"]
    assert ("ComputeClass", "gemma3-27b-tpu") not in objects(tpuCapacity={"enabled": False})


def test_reservations_name_their_zone_inside_the_reservation():
    prio = priorities(machine_type="ct6e-standard-4t", accelerator="tpu-v6e-slice", chips=4, topology="2x2",
                      zone="us-east5-b", project="p-123456", dranet=True,
                      capacity=(Capacity("reservation", "tpu-res", None), Capacity("flexStart")))
    assert prio[0]["reservations"] == {"affinity": "Specific", "specific": [
        {"name": "tpu-res", "project": "p-123456", "zones": ["us-east5-b"]}]}
    assert "location" not in prio[0]  # GKE refuses location.zones beside a Specific reservation
    assert prio[1]["flexStart"] == {"enabled": True} and prio[1]["location"] == {"zones": ["us-east5-b"]}


def test_gpu_priorities_name_type_count_and_driver():
    from synth.config.model import Capacity
    from synth.constructs.compute_class import gpu_priorities

    got = gpu_priorities(machine_type="g2-standard-24", gpu_type="nvidia-l4", count=2, driver_version="latest",
                         zone="us-central1-b", project="p-123456",
                         capacity=(Capacity("reservation", "l4-res"), Capacity("spot")))
    assert got[0] == {"machineType": "g2-standard-24", "gpu": {"type": "nvidia-l4", "count": 2, "driverVersion": "latest"},
                      "reservations": {"affinity": "Specific", "specific": [{"name": "l4-res", "project": "p-123456",
                                                                              "zones": ["us-central1-b"]}]}}
    assert got[1]["spot"] is True and got[1]["location"] == {"zones": ["us-central1-b"]}
    assert got[0]["gpu"] is not got[1]["gpu"]  # no shared nodes (the YAML would alias them)

"""`make bench`: synth and validation speed as ratios against baselines measured in the same run.

Baselines: a bare `import cdk8s, cdk8s_plus_30` in this venv (for synth) and kubernetes-validate strict (for the
validator), each measured next to the figure it anchors. Results go to stdout and bench/results/ (JSON + text).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
V6E = [("us-east5", "us-east5-b"), ("europe-west4", "europe-west4-a"), ("us-central1", "us-central1-b"),
       ("asia-northeast1", "asia-northeast1-b"), ("us-east1", "us-east1-d"), ("southamerica-east1", "southamerica-east1-c")]


def generated_fleet(clusters: int) -> dict:
    """A fleet of ``clusters`` serving clusters spread over the v6e regions, the first one the config cluster."""
    base = yaml.safe_load((REPO / "fleet.yaml").read_text())
    base["clusters"] = []
    for i in range(clusters):
        k = i % len(V6E)
        region, zone = V6E[k]
        base["clusters"].append({"name": f"c{i:03d}-{region}", "region": region, "zone": zone, "bucket": f"weights-{region}",
                                 "subnets": {"nodes": f"10.{i // 64}.{(i % 64) * 4}.0/22",
                                             "pods": f"10.{64 + i // 2}.{(i % 2) * 128}.0/17",
                                             "services": f"172.16.{i}.0/24", "proxyOnly": f"10.200.{2 * k}.0/23"}})
    base["gateway"]["configCluster"] = base["clusters"][0]["name"]
    return base


def generated_multi_fleet(clusters: int, models: int) -> dict:
    """``clusters`` serving clusters and ``models`` models (cycling through the multi-model example's three kinds: TPU
    2x2, TPU 1x1 with a LoRA adapter, two L4 GPUs in the regions whose v6e zone also has L4)."""
    example = yaml.safe_load((REPO / "examples" / "multi-model" / "fleet.yaml").read_text())
    base = generated_fleet(clusters)
    for key in ("model", "server", "routing"):
        base.pop(key, None)
    for c in base["clusters"]:
        c["bucket"] = f"w-{c['name']}"
    l4 = sorted({r for r, z in V6E if z in _l4_zones()})
    # Every model adds an endpoint picker (2 CPU) and a loader Job to each cluster's system pool.
    base["systemPool"] = {"machineType": "e2-standard-8", "maxNodes": 2 + models}
    base["models"] = []
    for i in range(models):
        m = json.loads(json.dumps(example["models"][i % len(example["models"])]))
        m["routing"]["poolName"] = f"{m['routing']['poolName']}-{i}"
        m["model"]["name"] = f"{m['model']['name']}-{i}"
        m["model"]["path"] = f"{m['model']['path']}-{i}"  # each model its own folder in the buckets
        m["model"]["sizeGi"] = {0: 52, 1: 9, 2: 23}[i % 3]
        for a in (m["model"].get("lora") or {}).get("adapters", []):
            a["name"] = f"{a['name']}-{i}"
        if "gpu" in m.get("server", {}):
            m["regions"] = l4
        base["models"].append(m)
    return base


def _l4_zones() -> frozenset:
    from .config.catalog import GPU_ZONES

    return GPU_ZONES["nvidia-l4"]


def _cold_env(tmp: Path) -> dict:
    """An environment whose caches (parsed CRDs, CEL parser, CEL verdicts) start empty."""
    return {**os.environ, "INFERENCE_FLEET_CACHE": str(tmp)}


def _run(cmd: list[str], env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss


def _median(cmd: list[str], runs: int) -> tuple[float, int]:
    results = [_run(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def _count_objects(out: Path) -> int:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return sum(1 for p in (out / "overlays").rglob("*.yaml") if "local" not in p.parts and p.name != "kustomization.yaml"
               for d in yaml.load_all(p.read_text(), Loader=loader) if d)  # noqa: S506


def machine() -> str:
    cpu = "unknown cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        mem = f", {int(next(l for l in open('/proc/meminfo') if l.startswith('MemTotal')).split()[1]) // 1048576} GiB"
    except (OSError, StopIteration):
        pass
    from .tools import ensure_node

    node = subprocess.run([ensure_node(), "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}, Node {node}"


def validator_throughput(objects: int = 6000) -> dict:
    import kubernetes_validate

    from .validate.engine import Validator

    kubectl = str(REPO / ".tools" / "bin" / "kubectl")
    docs = [d for d in yaml.safe_load_all(subprocess.run([kubectl, "kustomize", str(REPO / "overlays" / _config_cluster())],
                                                          capture_output=True, text=True, check=True).stdout) if d]
    namespace = yaml.safe_load((REPO / "fleet.yaml").read_text()).get("namespace", "llm-serving")
    text = json.dumps(docs)
    objs = []
    i = 0
    while len(objs) < objects:
        # The whole cluster output again in another namespace (names, subjects, --pool-namespace and all).
        copy = json.loads(text.replace(f'"{namespace}"', f'"ns-{i}"').replace(f"={namespace}\"", f"=ns-{i}\""))
        # Cluster-scoped objects (the ComputeClass, the CRD) exist once per cluster: only the first copy keeps them; each
        # copy keeps its own (renamed) Namespace.
        objs += [o for o in copy if i == 0 or (o.get("metadata") or {}).get("namespace") or o.get("kind") == "Namespace"]
        i += 1
    infra = [d for d in yaml.safe_load_all(subprocess.run([kubectl, "kustomize", str(REPO / "infra")], capture_output=True,
                                                           text=True, check=True).stdout) if d]
    start = time.perf_counter()
    validator = Validator()
    problems = validator.validate_fleet({_config_cluster(): [("bench", o) for o in objs], "infra": [("infra", o) for o in infra]})
    ours = time.perf_counter() - start
    sample = objs[: max(200, len(docs) * 10)]

    def their_pass() -> float:
        start = time.perf_counter()
        for o in sample:
            try:
                kubernetes_validate.validate(o, "1.34", strict=True)
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.ValidationError):
                pass
        return time.perf_counter() - start

    # The first pass loads each kind's schema; a large fleet is validated at the warm rate, so that is the baseline.
    their_first = their_pass()
    theirs = min(their_pass() for _ in range(2))
    ours_per, theirs_per = ours / len(objs), theirs / len(sample)
    marginal = _whole_process_marginal(objs, infra)
    return {"objects": len(objs), "problems": len(problems), "ours_ms_per_object": ours_per * 1000,
            "kubernetes_validate_ms_per_object": theirs_per * 1000, "ratio": theirs_per / ours_per,
            "kubernetes_validate_first_pass_ms_per_object": their_first / len(sample) * 1000,
            "cel_rules_evaluated": validator.stats.cel_evaluated, "cel_rules_skipped": len(validator.stats.cel_skipped),
            "whole_process_marginal_ms_per_object": marginal * 1000, "marginal_ratio": theirs_per / marginal}


def _whole_process_marginal(objs: list[dict], infra: list[dict], runs: int = 3) -> float:
    """Seconds per object that `inference-fleet validate` adds, whole process: the median time on the replicated fleet
    minus the median on its first half, over the objects in between (start-up and imports cancel out)."""
    half = len(objs) // 2
    with tempfile.TemporaryDirectory(prefix="inference-fleet-bench-validate-") as tmp:
        times = []
        for name, part in (("half", objs[:half]), ("whole", objs)):
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "cluster.yaml").write_text(yaml.safe_dump_all(part + infra, sort_keys=False))
            cmd = [sys.executable, "-m", "synth", "validate", str(folder / "cluster.yaml")]
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                subprocess.run(cmd, cwd=REPO, capture_output=True, check=False)
                samples.append(time.perf_counter() - start)
            times.append(sorted(samples)[len(samples) // 2])
    return max(times[1] - times[0], 1e-9) / (len(objs) - half)


def _config_cluster() -> str:
    return yaml.safe_load((REPO / "fleet.yaml").read_text())["gateway"]["configCluster"]


def main() -> int:
    py = sys.executable
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    rows = []
    baseline, base_rss = _median([py, "-c", "import cdk8s, cdk8s_plus_30"], runs)
    with tempfile.TemporaryDirectory(prefix="inference-fleet-bench-") as tmp:
        tmp_path = Path(tmp)
        default_clusters = len(yaml.safe_load((REPO / "fleet.yaml").read_text())["clusters"])
        cold, cold_rss = _run([py, "-m", "synth", "synth", "--config", "fleet.yaml", "--out", str(tmp_path / "cold")],
                              env=_cold_env(tmp_path / "cold-cache"))
        wall, rss = _median([py, "-m", "synth", "synth", "--config", "fleet.yaml", "--out", str(tmp_path / "default")], runs)
        rows.append(("default fleet", default_clusters, wall, rss, _count_objects(tmp_path / "default")))
        rows.append(("default, cold", default_clusters, cold, cold_rss, _count_objects(tmp_path / "cold")))
        # At most 50 serving clusters export one pool: its backend service takes 50 NEGs (neg-budget).
        for n in (10, 25, 50):
            config = tmp_path / f"fleet-{n}.yaml"
            config.write_text(yaml.safe_dump(generated_fleet(n), sort_keys=False))
            wall, rss = _median([py, "-m", "synth", "synth", "--config", str(config), "--out", str(tmp_path / f"out-{n}")],
                                max(1, runs - 1))
            rows.append((f"{n} clusters", n, wall, rss, _count_objects(tmp_path / f"out-{n}")))
        # Several models: each is its own chart and pool in every cluster that serves it.
        multi = []
        for n, m in ((20, 1), (10, 5), (20, 5)):
            config = tmp_path / f"fleet-{n}x{m}.yaml"
            data = generated_multi_fleet(n, m) if m > 1 else generated_fleet(n)
            config.write_text(yaml.safe_dump(data, sort_keys=False))
            wall, rss = _median([py, "-m", "synth", "synth", "--config", str(config), "--out", str(tmp_path / f"out-{n}x{m}")],
                                max(1, runs - 1))
            multi.append((f"{n} x {m} models", n, m, wall, rss, _count_objects(tmp_path / f"out-{n}x{m}")))
    val = validator_throughput()
    with tempfile.TemporaryDirectory(prefix="inference-fleet-cold-") as cold_cache:
        probe = subprocess.run([py, "-c", "import json; from synth.bench import validator_throughput; "
                                "print(json.dumps(validator_throughput()))"], cwd=REPO, env=_cold_env(Path(cold_cache)),
                               capture_output=True, text=True, check=True)
        val_cold = json.loads(probe.stdout.strip().splitlines()[-1])
    by_n = {r[1]: r for r in rows if r[0] not in ("default fleet", "default, cold")}
    marginal = (by_n[50][2] - by_n[10][2]) / 40
    predicted_25 = by_n[10][2] + marginal * 15
    lines = [f"machine: {machine()}",
             f"baseline: bare `import cdk8s, cdk8s_plus_30` = {baseline:.2f} s, {base_rss / 1024:.0f} MiB (median of {runs})",
             "",
             f"{'synth':<16}{'clusters':>9}{'wall s':>9}{'x import':>10}{'peak MiB':>10}{'objects':>9}"]
    for name, n, wall, rss, objects in rows:
        lines.append(f"{name:<16}{n:>9}{wall:>9.2f}{wall / baseline:>10.2f}{rss / 1024:>10.0f}{objects:>9}")
    default_wall = rows[0][2]
    lines += ["", f"{'several models':<16}{'clusters':>9}{'wall s':>9}{'x default':>10}{'peak MiB':>10}{'objects':>9}"]
    for name, n, m, wall, rss, objects in multi:
        lines.append(f"{name:<16}{n:>9}{wall:>9.2f}{wall / default_wall:>10.2f}{rss / 1024:>10.0f}{objects:>9}")
    by_nm = {(r[1], r[2]): r for r in multi}
    per_pair = (by_nm[(20, 5)][3] - by_nm[(10, 5)][3]) / 50  # seconds per extra cluster-model pair (10x5 -> 20x5)
    per_pair_models = (by_nm[(20, 5)][3] - by_nm[(20, 1)][3]) / 80  # (20x1 -> 20x5)
    lines += ["",
              f"marginal cost per cluster (10 -> 50): {marginal * 1000:.0f} ms; 25 clusters measured {by_n[25][2]:.2f} s vs "
              f"{predicted_25:.2f} s on the 10-50 line ({(by_n[25][2] / predicted_25 - 1) * 100:+.0f}%)",
              "",
              f"validator: {val['objects']} objects ({val['problems']} problems), ours {1000 / val['ours_ms_per_object']:,.0f} objects/s "
              f"({val['ours_ms_per_object']:.3f} ms/object) "
              f"end to end (schemas, CEL: {val['cel_rules_evaluated']} rules evaluated, {val['cel_rules_skipped']} skipped; fleet rules) "
              f"vs kubernetes-validate strict {1000 / val['kubernetes_validate_ms_per_object']:,.0f} objects/s "
              f"({val['kubernetes_validate_ms_per_object']:.2f} ms/object with its schemas loaded; "
              f"{val['kubernetes_validate_first_pass_ms_per_object']:.2f} on its first pass): {val['ratio']:.0f}x faster; whole process, marginal "
              f"per object (`inference-fleet validate`, start-up cancelled): {val['whole_process_marginal_ms_per_object']:.3f} ms, "
              f"{val['marginal_ratio']:.0f}x faster",
              f"validator, cold caches (no CEL verdicts or parsed CRDs from earlier runs): {val_cold['ours_ms_per_object']:.3f} ms/object "
              f"vs {val_cold['kubernetes_validate_ms_per_object']:.2f}: {val_cold['ratio']:.0f}x faster",
              "",
              f"several models: {per_pair * 1000:.0f} ms per extra cluster-model pair adding clusters (10x5 -> 20x5), "
              f"{per_pair_models * 1000:.0f} ms adding models (20x1 -> 20x5)",
              "",
              "targets: default synth <= 3x import: " + ("met" if rows[0][2] / baseline <= 3 else "MISSED") +
              "; first run on a machine (cold) <= 3x import: " + ("met" if rows[1][2] / baseline <= 3 else "MISSED") +
              "; 20 clusters x 5 models <= 3x the default fleet: " + ("met" if by_nm[(20, 5)][3] / default_wall <= 3 else "MISSED") +
              "; 50 clusters <= 15 s and <= 400 MiB: " + ("met" if by_n[50][2] <= 15 and by_n[50][3] / 1024 <= 400 else "MISSED") +
              "; validator marginal cost per object <= 1/50 of kubernetes-validate: " + ("met" if val["marginal_ratio"] >= 50 else "MISSED") +
              (" (cold too)" if val_cold["ratio"] >= 50 else " (warm only)")]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.txt").write_text(text)
    (RESULTS / "latest.json").write_text(json.dumps({
        "machine": machine(), "baseline_import_s": baseline,
        "synth": [{"name": r[0], "clusters": r[1], "wall_s": r[2], "ratio_to_import": r[2] / baseline,
                   "peak_rss_mib": r[3] / 1024, "objects": r[4]} for r in rows],
        "several_models": [{"name": r[0], "clusters": r[1], "models": r[2], "wall_s": r[3], "ratio_to_default": r[3] / default_wall,
                            "peak_rss_mib": r[4] / 1024, "objects": r[5]} for r in multi],
        "marginal_ms_per_cluster": marginal * 1000, "validator": val, "validator_cold": val_cold}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

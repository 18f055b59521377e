"""Values never become template code: a fleet-file value containing Go template syntax renders as text through
`helm template`, and appears verbatim in the overlay."""

from __future__ import annotations

import yaml

from synth.pipeline import synthesize
from tests.conftest import REPO, run, tool

HOSTILE = '--chat-template={{ .Release.Name }} {{- fail "boom" }} {{ include "x" . }} %s %d \\ "q"'


def test_template_syntax_in_values_renders_as_text(tmp_path):
    data = yaml.safe_load((REPO / "fleet.yaml").read_text())
    data["server"]["extraArgs"] = [HOSTILE]
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = tmp_path / "out"
    synthesize(config, out)
    chart = out / "charts" / "gemma3-serving"
    rendered = run([tool("helm"), "template", "r", str(chart), "-f", str(chart / "values-gemma3-europe-west4.yaml")])
    assert rendered.returncode == 0, rendered.stderr
    dep = next(d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-vllm"))
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"][-1] == HOSTILE
    overlay = yaml.safe_load((out / "overlays" / "gemma3-europe-west4" / "serving" / "deployment.yaml").read_text())
    assert overlay["spec"]["template"]["spec"]["containers"][0]["args"][-1] == HOSTILE
    assert "{{ .Release.Name }}" not in (chart / "templates" / "deployment.yaml").read_text()

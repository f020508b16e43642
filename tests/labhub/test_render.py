"""`labhub render`: what each stack would deploy, written as reviewable, valid, redacted files.

Invariants: every Kubernetes object the program creates directly is a valid
manifest for the cluster version we target (strict OpenAPI validation, so a
misspelled field fails); every chart's values pass the chart's own schema; no
generated or configured secret value appears anywhere in the output; a failed
render never leaves a half-written directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pulumi.runtime import rpc

from labhub.cli import main
from labhub.engine import PROJECT_DIR, StackRun, read_stack_files, run_stack
from labhub.errors import UserError
from labhub.render import MARKER, REDACTED, redact, render_files, write_tree
from labhub.z2jh_schema import validate_z2jh_values

# The oldest Kubernetes minor that z2jh 4.4.0 supports is 1.28; we validate against a
# current one (the bundled schemas' newest) so removed APIs are caught too.
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def _rendered(run: StackRun) -> dict[str, str]:
    return render_files(run)


def test_each_stack_renders_resources_manifests_and_charts(each_stack: StackRun) -> None:
    files = _rendered(each_stack)
    entries = json.loads(files["resources.json"])
    assert len(entries) == len(each_stack.resources)
    assert {e["type"] for e in entries} >= {"kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v4:Chart"}
    assert any(path.startswith("manifests/_cluster/namespace-") for path in files)
    assert any(path.startswith("charts/") and path.endswith("/values.yaml") for path in files)


def test_scripts_and_files_in_the_render_read_as_literal_blocks(each_stack: StackRun) -> None:
    """A multi-line string (the MySQL wrapper script, a shipped module, a notebook) is written as a `|` block,
    as the file it is, not as one escaped line; and every file reads back to the data rendered."""
    files = _rendered(each_stack)
    wrapper = re.compile(r"- \|\n( +)set -eu\n\1if \[ -d /var/lib/mysql/mysql \]; then\n\1  set -- ")
    with_wrapper = [path for path, text in files.items() if path.endswith(".yaml") and "exec /usr/local/bin/docker-entrypoint.sh" in text]
    assert with_wrapper and all(wrapper.search(files[path]) for path in with_wrapper)
    for path, text in files.items():
        if path.endswith(".yaml"):
            yaml.safe_load(text)  # each reads back
    values = yaml.safe_load(files["charts/spyglass/values.yaml"])
    [sidecar] = [c for c in values["singleuser"]["extraContainers"] if c["args"][0] == "mysqld"]
    assert sidecar["command"][2].startswith("set -eu\nif [ -d /var/lib/mysql/mysql ]; then\n")


def test_every_manifest_is_valid_against_the_kubernetes_openapi_schema(each_stack: StackRun) -> None:
    manifests = {p: yaml.safe_load(t) for p, t in _rendered(each_stack).items() if p.startswith("manifests/")}
    assert manifests
    for path, manifest in manifests.items():
        if manifest.get("kind") == "Secret":
            # stringData is redacted to "[secret]" strings: still a valid map of strings.
            assert all(v == REDACTED for v in (manifest.get("stringData") or {}).values()), path
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{each_stack.stack}: {path} is not a valid {manifest.get('kind')}: {error.message} at {list(error.path)}")


def test_every_chart_values_file_validates_against_the_z2jh_schema(each_stack: StackRun) -> None:
    files = _rendered(each_stack)
    charts = {p.split("/")[1] for p in files if p.startswith("charts/")}
    assert charts
    for release in charts:
        chart = yaml.safe_load(files[f"charts/{release}/chart.yaml"])
        assert chart["chart"] == "jupyterhub" and chart["version"] == "4.4.0"
        values = yaml.safe_load(files[f"charts/{release}/values.yaml"])
        assert validate_z2jh_values(values) == [], f"{each_stack.stack}: charts/{release}/values.yaml"


def test_no_secret_value_appears_in_plaintext_anywhere_in_the_render(each_stack: StackRun) -> None:
    assert each_stack.secret_values, "the run generated no secrets: the check would prove nothing"
    text = "\n".join(_rendered(each_stack).values())
    leaked = [v for v in each_stack.secret_values if v in text]
    assert leaked == []


def test_a_secret_object_keeps_its_shape_and_loses_only_its_secret_leaves() -> None:
    value = rpc.wrap_rpc_secret({"hub": {"cookie": "s3", "image": "lab/img:1"}, "n": 3})
    assert redact(value, frozenset({"s3"})) == {"hub": {"cookie": REDACTED, "image": "lab/img:1"}, "n": 3}
    assert redact(rpc.wrap_rpc_secret("s3"), frozenset()) == REDACTED
    assert redact({"note": "a url with s3 inside"}, frozenset({"s3"})) == {"note": REDACTED}


def test_render_replaces_its_previous_output_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "render"
    write_tree(out, {"a/old.yaml": "old\n"})
    write_tree(out, {"b/new.yaml": "new\n"})
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [MARKER, "b/new.yaml"]
    assert [p.name for p in tmp_path.iterdir()] == ["render"], "no staging directories are left behind"


def test_render_refuses_to_overwrite_a_directory_it_did_not_write(tmp_path: Path, capsys) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    assert main(["render", "--stack", "dev", "--out", str(tmp_path)]) == 2
    assert "is not a labhub render directory" in capsys.readouterr().err
    assert precious.read_text() == "keep me"


def test_render_of_an_unknown_stack_names_the_stacks_that_exist(tmp_path: Path, capsys) -> None:
    assert main(["render", "--stack", "staging", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("labhub: error: no stack 'staging'") and "stacks here: dev, prod" in err
    assert not (tmp_path / "out").exists()


def test_the_cli_writes_the_dev_render(tmp_path: Path, capsys) -> None:
    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "out")]) == 0
    assert "rendered stack 'dev'" in capsys.readouterr().out
    assert (tmp_path / "out" / "resources.json").is_file()


def test_secure_values_become_secret_placeholders_even_inside_objects(tmp_path: Path) -> None:
    """`secure:` values cannot be decrypted offline: each becomes a random placeholder, never written out."""
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n"
        "  probe:flat:\n    secure: v1:AAAA\n"
        "  probe:nested:\n    user: ann\n    password:\n      secure: v1:BBBB\n"
    )
    (tmp_path / "__main__.py").write_text(
        "import json, pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('flat', c.require_secret('flat'))\n"
        "pulumi.export('nested', c.require_secret_object('nested'))\n"
        "pulumi.export('leak', json.loads(pulumi.Config().get('nested'))['password'])\n"
    )
    files = read_stack_files(tmp_path, "s")
    assert files.secret_keys == {"probe:flat", "probe:nested"}
    assert "v1:" not in json.dumps(files.config)
    run = run_stack("s", tmp_path)
    assert rpc.is_rpc_secret(run.outputs["flat"]) and rpc.is_rpc_secret(run.outputs["nested"])
    text = "\n".join(render_files(run).values())
    assert "offline-placeholder-" not in text
    leaked_placeholder = run.outputs["leak"]
    assert leaked_placeholder in run.secret_values, "a placeholder read without get_secret is still known as secret"
    assert leaked_placeholder not in text


# --- where --out cannot be written: one line, exit 2, nothing left behind -------------------------


def _leftovers(folder: Path) -> list[str]:
    """Staging or retired renders beside the target (`.<name>.*`): what a failed render must not leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_out_under_a_file_is_one_line_naming_the_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "notes.txt" / "out")]) == 2
    assert capsys.readouterr().err == (
        f"labhub: error: --out {tmp_path}/notes.txt/out: {tmp_path}/notes.txt is a file, not a folder; choose a path under a folder\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and _leftovers(tmp_path) == []


@pytest.mark.integration
def test_out_in_a_read_only_folder_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """A folder its owner may read but not write. Root ignores folder permissions through CAP_DAC_OVERRIDE, so
    labhub runs as root without that capability: it stays the owner of the project (which may sit in a folder
    only root can enter, as CI's clone does) while the folder's mode applies to it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop CAP_DAC_OVERRIDE (setpriv)")
    base = Path(tempfile.mkdtemp(prefix="labhub-ro-"))
    try:
        (base / "ro").mkdir(mode=0o555)
        dropped = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={dropped}", f"--inh-caps={dropped}", sys.executable, "-m", "labhub.cli",
                   "render", "--stack", "dev", "--out", str(base / "ro" / "out")]  # fmt: skip
        done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"labhub: error: --out {base}/ro/out: cannot create it: Permission denied\n"
        assert list((base / "ro").iterdir()) == []
    finally:
        shutil.rmtree(base)


@pytest.mark.integration
def test_a_render_over_a_previous_one_on_a_read_only_file_system_keeps_it(tmp_path: Path) -> None:
    """A previous render on a file system remounted read-only: one line, the render untouched, no `.old` beside it."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace (unshare)")
    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "out")]) == 0
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    script = f'mount --bind -o ro "{tmp_path}" "{tmp_path}" && exec "$@"'
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
               sys.executable, "-m", "labhub.cli", "render", "--stack", "dev", "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (2, f"labhub: error: --out {tmp_path}/out: cannot create it: Read-only file system\n")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_a_failed_swap_puts_the_previous_render_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the new render cannot be renamed into place, the old one is restored and the error names --out."""
    out = tmp_path / "render"
    write_tree(out, {"old.yaml": "old\n"})
    real_rename = Path.rename

    def refuse_staging(self: Path, target: Path) -> Path:
        if self.name.startswith(".render.") and ".old." not in self.name and Path(target) == out:
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", refuse_staging)
    with pytest.raises(UserError) as error:
        write_tree(out, {"new.yaml": "new\n"})
    assert str(error.value) == f"--out {out}: cannot write the render: No space left on device; the previous render, if any, is unchanged"
    assert (out / "old.yaml").read_text() == "old\n" and not (out / "new.yaml").exists()
    assert _leftovers(tmp_path) == []

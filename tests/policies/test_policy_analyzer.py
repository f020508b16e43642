"""The pack behaves the same behind the SDK's analyzer as when called directly.

Three levels, as pulumi-policy's own tests drive it: the real
`_PolicyAnalyzerServicer` (Configure + Analyze, engine-shaped protobuf), then
`policies/__main__.py` booted as the CLI boots it, answering over gRPC.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE

from policies.secret_rules import ENFORCEMENT_LEVEL, POLICIES

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
EXPECTED_NAMES = [
    "no-plaintext-credential-env", "no-plaintext-credential-in-chart-values", "no-credentials-in-configmaps",
    "no-credentials-in-metadata", "no-credentials-in-properties", "no-credentials-on-command-line",
    "no-credential-docker-build-args",
    "no-weak-credentials", "generated-passwords-long-enough", "secret-random-values-long-enough",
]


def struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def servicer(policy_config: dict[str, tuple[int, dict]] | None = None) -> _PolicyAnalyzerServicer:
    s = _PolicyAnalyzerServicer("policies", "0.1.0", POLICIES, ENFORCEMENT_LEVEL)
    if policy_config:
        s.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
            name: proto.PolicyConfig(enforcementLevel=level, properties=struct(props))
            for name, (level, props) in policy_config.items()}), None)
    return s


def analyze(s: _PolicyAnalyzerServicer, type_: str, props: dict, name: str = "res"):
    return s.Analyze(proto.AnalyzeRequest(type=type_, properties=struct(props), urn=f"urn:pulumi:t::p::{type_}::{name}",
                                          name=name), None).diagnostics


WEAK_SECRET = ("kubernetes:core/v1:Secret", {"stringData": {"password": "changeme"}})  # pragma: allowlist secret


def test_policy_names_are_kebab_case_and_descriptions_one_sentence():
    assert [p.name for p in POLICIES] == EXPECTED_NAMES
    for policy in POLICIES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", policy.name)
        assert policy.description.endswith(".") and policy.description.count(". ") == 0
        assert policy.enforcement_level == EnforcementLevel.MANDATORY
        assert policy.config_schema is not None and all("default" in p for p in policy.config_schema.properties.values())


def test_servicer_reports_a_mandatory_violation_with_description_then_message():
    [diagnostic] = analyze(servicer(), *WEAK_SECRET)
    assert diagnostic.policyName == "no-weak-credentials"
    assert diagnostic.enforcementLevel == proto.MANDATORY
    description, message = diagnostic.message.split("\n", 1)
    assert description == "Credentials must not be well-known defaults or very short."
    assert message.startswith("stringData.password: credential is a well-known default")
    assert "changeme" not in diagnostic.message  # never echo the value


def test_servicer_configure_sets_level_and_config_properties():
    s = servicer({"no-weak-credentials": (proto.ADVISORY, {"weakValues": ["nothing-matches"], "minLength": 4})})
    assert list(analyze(s, *WEAK_SECRET)) == []  # the custom list replaced the default one
    s = servicer({"no-weak-credentials": (proto.ADVISORY, {})})
    assert [d.enforcementLevel for d in analyze(s, *WEAK_SECRET)] == [proto.ADVISORY]


def test_servicer_skips_disabled_policies():
    assert list(analyze(servicer({"no-weak-credentials": (proto.DISABLED, {})}), *WEAK_SECRET)) == []


def test_servicer_float_config_from_struct_keeps_integer_semantics():
    s = servicer({"generated-passwords-long-enough": (proto.MANDATORY, {"minLength": 32})})
    [d] = analyze(s, "random:index/randomPassword:RandomPassword", {"length": 24}, "pw")
    assert "below the minimum of 32 (minLength)" in d.message


def test_servicer_turns_unknown_length_into_advisory_preview_diagnostic():
    [d] = analyze(servicer(), "random:index/randomPassword:RandomPassword", {"length": UNKNOWN_NUMBER_VALUE}, "pw")
    assert d.enforcementLevel == proto.ADVISORY
    assert d.message == ("can't run policy 'generated-passwords-long-enough' from policy pack 'policies@v0.1.0' "
                         "during preview: number value at .length can't be known during preview")


def test_servicer_unknown_values_in_scanned_resources_are_silent():
    props = {"stringData": {"password": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}}
    assert list(analyze(servicer(), "kubernetes:core/v1:Secret", props)) == []


def test_analyzer_info_lists_every_policy_with_its_schema():
    info = servicer().GetAnalyzerInfo(None, None)
    assert [p.name for p in info.policies] == EXPECTED_NAMES
    assert {p.enforcementLevel for p in info.policies} == {proto.MANDATORY}
    weak = next(p for p in info.policies if p.name == "no-weak-credentials")
    assert set(weak.configSchema.properties) >= {"weakValues", "minLength", "generatedValuePaths"}


def test_pulumi_policy_yaml_declares_a_python_virtualenv_pack():
    doc = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(doc["version"])) and doc["description"]
    assert (PACK_DIR / "requirements.txt").read_text().count("pulumi-policy==1.21.0") == 1


def test_main_boots_the_pack_and_answers_over_grpc():
    """Run policies/__main__.py as the CLI does; it prints its port, then serves until killed."""
    process = subprocess.Popen([sys.executable, str(PACK_DIR / "__main__.py")], cwd=PACK_DIR,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=20)
        assert line and line[0].strip().isdigit(), f"no port printed: {line} {process.poll()}"
        with grpc.insecure_channel(f"127.0.0.1:{int(line[0])}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
            assert info.name == "policies"
            assert [p.name for p in info.policies] == EXPECTED_NAMES
            response = stub.Analyze(proto.AnalyzeRequest(type=WEAK_SECRET[0], properties=struct(WEAK_SECRET[1]),
                                                          urn="urn:pulumi:t::p::kubernetes:core/v1:Secret::s", name="s"),
                                     timeout=10)
            assert [d.policyName for d in response.diagnostics] == ["no-weak-credentials"]
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_pack_requirements_pin_what_the_repo_pins():
    """The CLI installs policies/requirements.txt into the pack's own venv: the same versions as constraints.txt."""
    def pins(path: Path) -> dict[str, str]:
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        return {re.sub(r"[-_.]+", "-", n).lower(): v for n, _, v in (line.partition("==") for line in lines if line)}

    pack, repo = pins(PACK_DIR / "requirements.txt"), pins(PACK_DIR.parent / "constraints.txt")
    assert set(pack) >= {"pulumi", "pulumi-policy", "detect-secrets", "pyyaml"}  # what policies/ imports
    assert {name: repo.get(name) for name in pack} == pack

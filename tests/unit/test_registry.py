"""The command registry: declarations are consistent and use CloudStack's exact names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

import management.api.native.commands  # noqa: F401
from management.api.native.registry import registry

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "cloudstack-commands.json"


# CloudStack's simulator plugin (plugins/hypervisors/simulator: ConfigureSimulatorCmd, MockResponse...) is not
# in the API dump above; its commands are declared here the same way.
_MOCK = ["clusterid", "count", "hostid", "id", "name", "podid", "zoneid"]
SIMULATOR_PLUGIN = {
    "configureSimulator": {"async": False, "params": ["zoneid", "podid", "clusterid", "hostid", "name", "value",
                                                      "count", "jsonresponse"],
                           "required": ["name", "value"], "list_key": None, "response_fields": _MOCK},
    "querySimulatorMock": {"async": False, "params": ["id"], "required": ["id"], "list_key": None,
                           "response_fields": _MOCK},
    "cleanupSimulatorMock": {"async": False, "params": ["id"], "required": ["id"], "list_key": None,
                             "response_fields": ["displaytext", "success"]},
}


@pytest.fixture(scope="module")
def spec() -> dict:
    assert SPEC.exists(), f"the command spec is expected beside the project at {SPEC}"
    return json.loads(SPEC.read_text())["commands"] | SIMULATOR_PLUGIN


def test_every_command_is_a_cloudstack_command(spec):
    for name, cls in registry.commands.items():
        assert name in spec, name
        assert cls.api.is_async == spec[name]["async"] or name == "registerUserKeys", name


def test_parameter_names_match_cloudstack(spec):
    for name, cls in registry.commands.items():
        known = {p.lower() for p in spec[name]["params"]}
        for wire in cls.params:
            assert wire in known, f"{name}: parameter {wire} is not a CloudStack parameter"


def test_required_parameters_match_cloudstack(spec):
    for name, cls in registry.commands.items():
        required = {p.lower() for p in spec[name]["required"]}
        ours = {wire for wire, p in cls.params.items() if p.required}
        assert ours == required, f"{name}: required {sorted(ours)} vs CloudStack {sorted(required)}"


def test_response_fields_match_cloudstack(spec):
    for name, cls in registry.commands.items():
        response = cls.api.response
        if response is None or not issubclass(response, BaseModel):
            continue
        known = set(spec[name]["response_fields"])
        for field in response.model_fields:
            if name in ("listApis", "listCapabilities"):
                continue  # nested objects: their fields are not listed at the top level
            assert field in known, f"{name}: response field {field} is not CloudStack's"


def test_list_keys_match_cloudstack(spec):
    for name, cls in registry.commands.items():
        if spec[name]["list_key"]:
            assert cls.api.list_key == spec[name]["list_key"], name
            assert cls.api.response.object_name == spec[name]["list_key"], name

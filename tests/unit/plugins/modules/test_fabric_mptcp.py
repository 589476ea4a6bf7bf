# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_mptcp module on the node: its argument spec is its documentation, it takes what its
action plugin rendered, hands it to mptcp_apply and reports; the LocalHost it gives mptcp_apply."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import fabric_mptcp
from ansible_collections.clusterfabric.multilink.plugins.module_utils import mptcp_apply

RENDERED = {"host": "n1", "endpoints": [{"id": 101, "address": "198.18.0.11", "device": "eth0"}],
            "limits": {"subflows": 0, "add_addr_accepted": 0}, "watchdog": {"state": "absent"}}


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            fabric_mptcp.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def converge(monkeypatch):
    seen = []

    def fake(host, state, rendered, services, **options):
        seen.append(dict(options, host=host, state=state, rendered=rendered, services=services))
        return {"changed": True, "diff": [{"before": "", "after": "x"}], "warnings": ["restart it"],
                "restart": ["aerospike.service"], "library": "/lib/x.so"}
    monkeypatch.setattr(mptcp_apply, "converge", fake)
    return seen


def test_the_argument_spec_is_the_documentation():
    documented = yaml.safe_load(fabric_mptcp.DOCUMENTATION)["options"]
    assert set(documented) == set(mptcp_apply.OPTIONS)
    for name, spec in mptcp_apply.OPTIONS.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("default") == spec.get("default"), name
        assert documented[name].get("choices") == spec.get("choices"), name
        assert documented[name].get("elements") == spec.get("elements"), name
    returned = yaml.safe_load(fabric_mptcp.RETURN)
    assert set(returned) == {"model", "watchdog", "restart", "library", "diff"}
    yaml.safe_load(fabric_mptcp.EXAMPLES)


def test_the_rendered_endpoints_and_check_mode_go_to_mptcp_apply(capsys, converge, monkeypatch):
    warned = []
    monkeypatch.setattr(fabric_mptcp.AnsibleModule, "warn", lambda self, text: warned.append(text))
    code, result = run(dict(rendered=RENDERED, services=["a.service"], nat_first=True), capsys, check_mode=True)
    assert code == 0 and result["changed"] and result["restart"] == ["aerospike.service"]
    assert result["library"] == "/lib/x.so" and warned == ["restart it"]
    call = converge[0]
    assert call["check_mode"] and call["nat_first"] and call["live"] and call["install_packages"]
    assert call["rendered"] == RENDERED and call["watchdog"] == {"state": "absent"} and call["services"] == ["a.service"]
    assert call["machine"] == os.uname()[4] and isinstance(call["host"], fabric_mptcp.LocalHost)


def test_a_root_is_a_staging_run(capsys, converge, tmp_path):
    code, dummy = run(dict(rendered=RENDERED, root=str(tmp_path) + "/"), capsys)
    assert code == 0 and not converge[0]["live"] and converge[0]["host"].root == str(tmp_path)


def test_absent_goes_without_endpoints(capsys, converge):
    code, dummy = run(dict(state="absent", rendered={"host": "n1", "watchdog": {"state": "absent"}}), capsys)
    assert code == 0 and converge[0]["state"] == "absent"
    code, result = run(dict(state="absent", rendered=RENDERED), capsys)
    assert code == 1 and "rendered endpoints do not match state absent" in result["msg"]


def test_without_its_action_plugin_the_module_refuses_to_run(capsys, converge):
    code, result = run(dict(plan={"n1": {}}, node="n1", links=[]), capsys)
    assert code == 1 and "computed on the controller by the module's action plugin" in result["msg"]
    assert converge == []


def test_errors_from_the_host_are_reported(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise fabric_mptcp.FabricError("host n1: fabric_strategy mptcp: this kernel has no Multipath TCP")
    monkeypatch.setattr(mptcp_apply, "converge", fail)
    code, result = run(dict(rendered=RENDERED), capsys)
    assert code == 1 and "this kernel has no Multipath TCP" in result["msg"]


class Module(object):
    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)

    @staticmethod
    def sha256(path):
        return "digest"


def test_local_host_under_a_root(tmp_path):
    host = fabric_mptcp.LocalHost(Module(), str(tmp_path))
    dropin = "/etc/systemd/system/a.service.d/50-clusterfabric-mptcp.conf"
    assert host.read(dropin) is None and not host.exists(dropin) and host.listdir("/etc/systemd/system") == []
    host.write(dropin, "[Service]\n", 0o644)
    assert (tmp_path / dropin.lstrip("/")).read_text() == "[Service]\n" and host.exists(dropin)
    assert host.listdir("/etc/systemd/system") == ["a.service.d"] and host.sha256(dropin) == "digest"
    assert host.writable(dropin)
    host.remove(dropin)
    assert not (tmp_path / "etc/systemd/system/a.service.d").exists()  # our empty drop-in directory goes too
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "value").write_text("0\n")
    host.write("/proc/value", "1\n", 0o644)
    assert host.read("/proc/value") == "1\n"


def test_link_sample_documents_its_mptcp_view():
    """verify.yml's subflow view comes from link_sample (mptcp option): its documentation parses."""
    from ansible_collections.clusterfabric.multilink.plugins.modules import link_sample  # pylint: disable=import-outside-toplevel
    assert "mptcp" in yaml.safe_load(link_sample.DOCUMENTATION)["options"]
    assert "mptcp" in yaml.safe_load(link_sample.RETURN)

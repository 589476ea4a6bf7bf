# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_nat module: argument handling, apply=false, errors, and what it hands nat_apply."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import fabric_nat
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply

PLAN = {"n1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
        "n2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]}}
LINKS = [{"name": "fab0", "device": "eth0", "subnet": "198.18.0.0/24"}, {"name": "fab1", "device": "eth1"}]


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            fabric_nat.main()
    result = json.loads(capsys.readouterr().out)
    return caught.value.code, result


@pytest.fixture
def converge(monkeypatch):
    seen = []

    def fake(host, model, backend, persist, check_mode):
        seen.append(dict(host=host, model=model, backend=backend, persist=persist, check_mode=check_mode))
        return {"changed": True, "diff": [{"before": "", "after": "x"}], "ruleset": "", "ruleset6": "",
                "warnings": ["nft is missing"]}
    monkeypatch.setattr(nat_apply, "converge", fake)
    return seen


def test_apply_false_only_computes(capsys, converge):
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, apply=False), capsys)
    assert code == 0 and not result["changed"] and converge == []
    assert result["rules"]["peers"][0]["lanes"][1]["address"] == "198.18.1.12"
    assert result["ruleset"].startswith("# clusterfabric.multilink fabric_nat: node n1, backend nftables")
    assert result["diff"] == []


def test_apply_false_iptables_returns_restore_input(capsys, converge):
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, apply=False, backend="iptables",
                            weights={"fab1": "2"}, ports=["3001", 3002]), capsys)
    assert code == 0
    assert "-A CFML-n2-3002 -m statistic --mode nth --every 3 --packet 0" in result["ruleset"]
    assert result["ruleset6"] == ""


def test_present_hands_the_model_and_check_mode_to_nat_apply(capsys, converge, monkeypatch):
    warned = []
    monkeypatch.setattr(fabric_nat.AnsibleModule, "warn", lambda self, text: warned.append(text))
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, persist=False), capsys, check_mode=True)
    assert code == 0 and result["changed"] and result["diff"] == [{"before": "", "after": "x"}]
    assert warned == ["nft is missing"]
    call = converge[0]
    assert call["check_mode"] and not call["persist"] and call["backend"] == "nftables"
    assert call["model"]["node"] == "n1"
    assert isinstance(call["host"], fabric_nat.LocalHost)


def test_watchdog_returns_its_configuration_and_needs_nftables(capsys, converge):
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, apply=False, watchdog=True), capsys)
    assert code == 0 and result["rules"]["watchdog"] is True
    assert result["watchdog"]["chains"] == [{"name": "peer_n2_3001", "peer": "n2", "family": "ipv4", "port": 3001,
                                             "lanes": [{"link": "fab0", "address": "198.18.0.12"},
                                                       {"link": "fab1", "address": "198.18.1.12"}]}]
    assert result["watchdog"]["links"][1] == {"name": "fab1", "device": "eth1", "family": "ipv4",
                                              "source": "198.18.1.11"}
    assert "reject with tcp reset" in result["ruleset"]
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, apply=False), capsys)
    assert code == 0 and result["watchdog"] == {} and "reject" not in result["ruleset"]
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS, watchdog=True, backend="iptables"), capsys)
    assert code == 1 and "watchdog=true needs backend=nftables" in result["msg"] and converge == []


def test_absent_needs_nothing_else(capsys, converge):
    code, result = run(dict(state="absent"), capsys)
    assert code == 0 and converge[0]["model"] is None and result["rules"] == {}


def test_bad_input_fails_naming_the_item_and_applies_nothing(capsys, converge):
    code, result = run(dict(plan=PLAN, node="n1", links=[{"name": "fab0", "device": "eth0; drop"},
                                                         {"name": "fab1", "device": "eth1"}]), capsys)
    assert code == 1 and result["failed"]
    assert "link fab0: device 'eth0; drop' is not a safe interface name" in result["msg"]
    assert converge == []


def test_present_requires_plan_node_and_links(capsys, converge):
    code, result = run(dict(node="n1"), capsys)
    assert code == 1 and "plan, links" in result["msg"]


def test_errors_from_the_host_are_reported(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise fabric_nat.FabricError("the nft command is missing on this host; install the Debian package nftables")
    monkeypatch.setattr(nat_apply, "converge", fail)
    code, result = run(dict(plan=PLAN, node="n1", links=LINKS), capsys)
    assert code == 1 and "install the Debian package nftables" in result["msg"]
    assert result["rules"]["node"] == "n1"


def test_local_host_reads_writes_and_removes(tmp_path):
    class Module(object):
        @staticmethod
        def atomic_move(src, dest):
            import os
            os.rename(src, dest)
    host = fabric_nat.LocalHost(Module())
    path = str(tmp_path / "sub" / "file")
    assert host.read(path) is None and not host.exists(path)
    host.write(path, "text\n", 0o600)
    assert host.read(path) == "text\n" and host.exists(path)
    assert oct((tmp_path / "sub" / "file").stat().st_mode & 0o777) == "0o600"
    host.remove(path)
    host.remove(path)
    assert not host.exists(path)

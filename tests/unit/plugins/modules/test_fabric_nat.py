# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_nat module on the node: it takes what its action plugin rendered, hands it to
nat_apply and reports; refused calls; the LocalHost it gives nat_apply."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import fabric_nat
from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply

RULES = {"nft": {"script": "table ip clusterfabric_multilink\n", "families": ["ip"], "runtime": False},
         "iptables": None}


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

    def fake(host, rules, backend, persist, check_mode, watchdog):
        seen.append(dict(host=host, rules=rules, backend=backend, persist=persist, check_mode=check_mode,
                         watchdog=watchdog))
        return {"changed": True, "diff": [{"before": "", "after": "x"}], "warnings": ["nft is missing"]}
    monkeypatch.setattr(nat_apply, "converge", fake)
    return seen


def test_the_rendered_rules_and_check_mode_go_to_nat_apply(capsys, converge, monkeypatch):
    warned = []
    monkeypatch.setattr(fabric_nat.AnsibleModule, "warn", lambda self, text: warned.append(text))
    watchdog = {"state": "absent"}
    code, result = run(dict(persist=False, rendered={"rules": RULES, "watchdog": watchdog}), capsys, check_mode=True)
    assert code == 0 and result["changed"] and result["diff"] == [{"before": "", "after": "x"}]
    assert warned == ["nft is missing"]
    call = converge[0]
    assert call["check_mode"] and not call["persist"] and call["backend"] == "nftables"
    assert call["rules"] == RULES and call["watchdog"] == watchdog
    assert isinstance(call["host"], fabric_nat.LocalHost)


def test_absent_goes_with_no_rules(capsys, converge):
    code, result = run(dict(state="absent", rendered={"rules": None, "watchdog": {"state": "absent"}}), capsys)
    assert code == 0 and converge[0]["rules"] is None
    code, result = run(dict(state="absent", rendered={"rules": RULES}), capsys)
    assert code == 1 and "rendered rules do not match state absent" in result["msg"]


def test_without_its_action_plugin_the_module_refuses_to_run(capsys, converge):
    code, result = run(dict(plan={"n1": {}}, node="n1", links=[]), capsys)
    assert code == 1 and "computed on the controller by the module's action plugin" in result["msg"]
    assert converge == []


def test_errors_from_the_host_are_reported(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise fabric_nat.FabricError("the nft command is missing on this host; install the Debian package nftables")
    monkeypatch.setattr(nat_apply, "converge", fail)
    code, result = run(dict(rendered={"rules": RULES}), capsys)
    assert code == 1 and "install the Debian package nftables" in result["msg"]


class Module(object):
    @staticmethod
    def atomic_move(src, dest):
        os.rename(src, dest)

    @staticmethod
    def sha256(path):
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()


def test_local_host_reads_writes_installs_and_removes(tmp_path):
    host = fabric_nat.LocalHost(Module())
    path = str(tmp_path / "sub" / "file")
    assert host.read(path) is None and not host.exists(path) and host.sha256(path) is None
    host.write(path, "text\n", 0o600)
    assert host.read(path) == "text\n" and host.exists(path)
    assert oct((tmp_path / "sub" / "file").stat().st_mode & 0o777) == "0o600"
    assert host.sha256(path) == hashlib.sha256(b"text\n").hexdigest()
    host.remove(path)
    host.remove(path)
    assert not host.exists(path)
    (tmp_path / "sent").write_text("program\n")
    target = str(tmp_path / "lib" / "linkwatch.py")
    host.install(str(tmp_path / "sent"), target, 0o644)
    assert host.read(target) == "program\n" and not (tmp_path / "sent").exists()
    assert oct((tmp_path / "lib" / "linkwatch.py").stat().st_mode & 0o777) == "0o644"

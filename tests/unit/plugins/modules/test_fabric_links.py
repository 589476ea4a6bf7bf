# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_links module: detection only, apply, check mode, diff and refused calls."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import fabric_links
from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_apply

PATH = "/etc/systemd/network/10-fabric-eth1.network"
FILES = [{"path": PATH, "content": "[Match]\nName=eth1\n", "mode": "0644"}]
DIGESTS = ["eth1=networkd:auto:master:aaaa"]


def run(args, capsys, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            fabric_links.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def test_backend_auto_without_files_only_detects(capsys, monkeypatch):
    monkeypatch.setattr(fabric_links, "detect", lambda: {"netplan": False, "services": {}})
    code, result = run({"backend": "auto"}, capsys)
    assert code == 0 and not result["changed"]
    assert result["detected"] == {"netplan": False, "services": {}}


def test_apply_writes_and_returns_changed_devices(tmp_path, capsys):
    args = {"backend": "networkd", "root": str(tmp_path), "files": FILES, "digests": DIGESTS}
    code, result = run(args, capsys)
    assert code == 0 and result["changed"] and result["changed_devices"] == ["eth1"]
    assert result["written"] == [PATH] and result["backend"] == "networkd" and "diff" not in result
    assert os.path.exists(str(tmp_path) + PATH)
    code, result = run(args, capsys)
    assert code == 0 and not result["changed"] and result["changed_devices"] == []


def test_check_mode_with_diff_writes_nothing(tmp_path, capsys):
    root = tmp_path / "new"
    code, result = run({"backend": "networkd", "root": str(root), "files": FILES, "digests": DIGESTS},
                       capsys, check_mode=True, diff=True)
    assert code == 0 and result["changed"] and not root.exists()
    assert any(entry.get("after") == FILES[0]["content"] for entry in result["diff"])


def test_converge_gets_root_manifest_and_modes(tmp_path, capsys, monkeypatch):
    seen = []

    def fake(root, backend, files, digests, manifest, check_mode, want_diff):
        seen.append((root, backend, files, digests, manifest, check_mode, want_diff))
        return {"changed": False, "changed_devices": [], "written": [], "removed": [], "diff": []}
    monkeypatch.setattr(fabric_links, "converge", fake)
    code, dummy = run({"backend": "netplan", "files": [], "manifest": "/m.json"}, capsys, check_mode=True, diff=True)
    assert code == 0
    assert seen == [("/", "netplan", [], [], "/m.json", True, True)]


@pytest.mark.parametrize("args, message", [
    ({"backend": "networkd", "model": {"host": "n1"}}, "model is rendered on the controller by the module's action plugin"),
    ({"backend": "networkd"}, "files is required with backend networkd"),
    ({"backend": "auto", "files": []}, "files need an explicit backend, not auto"),
    ({"backend": "networkd", "files": [{"path": "/etc/passwd", "content": "", "mode": "0644"}]},
     "fabric_links: files\\[0\\].path '/etc/passwd' must be a file directly in"),
])
def test_refused_calls(tmp_path, capsys, args, message):
    code, result = run(dict(args, root=str(tmp_path)), capsys)
    assert code == 1 and result["failed"]
    assert re.search(message, result["msg"]), result["msg"]
    assert os.listdir(str(tmp_path)) == []


def test_options_are_the_documented_ones():
    documented = yaml.safe_load(fabric_links.DOCUMENTATION)["options"]
    assert set(documented) == set(link_apply.OPTIONS) | {"files", "digests"}
    for name, spec in link_apply.OPTIONS.items():
        assert documented[name].get("default") == spec.get("default"), name
        assert documented[name].get("choices") == spec.get("choices"), name

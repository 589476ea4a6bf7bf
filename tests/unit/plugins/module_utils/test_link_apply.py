# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node side of fabric_links: compare, write, remove, record, in a tmp root."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import subprocess

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_apply
from ansible_collections.clusterfabric.multilink.plugins.module_utils.link_apply import (
    LinkApplyError, changed_devices, converge, detect, manifest_text)

NET = "/etc/systemd/network"
MANIFEST = "/var/lib/clusterfabric-multilink/links-manifest.json"
FILES = [{"path": NET + "/10-fabric-eth1.network", "content": "[Match]\nName=eth1\n", "mode": "0644"},
         {"path": NET + "/10-fabric-eth2.network", "content": "[Match]\nName=eth2\n", "mode": "0644"}]
DIGESTS = ["eth1=networkd:auto:master:aaaa", "eth2=networkd:auto:master:bbbb"]


def read(root, path):
    with open(str(root) + path) as handle:
        return handle.read()


def mode(root, path):
    return stat.S_IMODE(os.stat(str(root) + path).st_mode)


def tree(root):
    found = {}
    for directory, dummy, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(directory, name)
            with open(path) as handle:
                found[os.path.relpath(path, str(root))] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def apply(root, files=None, digests=None, backend="networkd", **kwargs):
    return converge(str(root), backend, FILES if files is None else files, DIGESTS if digests is None else digests,
                    manifest=MANIFEST, **kwargs)


def test_a_new_host_gets_directory_files_and_manifest_then_nothing_changes(tmp_path):
    first = apply(tmp_path, want_diff=True)
    assert first["changed"] and first["written"] == [f["path"] for f in FILES]
    assert first["changed_devices"] == ["eth1", "eth2"] and first["removed"] == []
    assert read(tmp_path, FILES[0]["path"]) == FILES[0]["content"] and mode(tmp_path, FILES[0]["path"]) == 0o644
    assert mode(tmp_path, NET) == 0o755
    assert read(tmp_path, MANIFEST) == manifest_text("networkd", [f["path"] for f in FILES], DIGESTS)
    assert mode(tmp_path, MANIFEST) == 0o644
    assert {"before_header": FILES[0]["path"], "after_header": FILES[0]["path"], "before": "",
            "after": FILES[0]["content"]} in first["diff"]
    second = apply(tmp_path, want_diff=True)
    assert not second["changed"] and second["diff"] == [] and second["changed_devices"] == []
    assert second["written"] == [] and second["removed"] == []


def test_the_manifest_is_what_to_nice_json_wrote():
    assert manifest_text("netplan", ["/etc/netplan/x.yaml"], ["eth1=a"]) == (
        '{\n  "backend": "netplan",\n  "digests": [\n    "eth1=a"\n  ],\n  "files": [\n'
        '    "/etc/netplan/x.yaml"\n  ]\n}\n')


def test_check_mode_writes_nothing_on_a_new_host_and_reports_the_diff(tmp_path):
    root = tmp_path / "new"
    result = apply(root, check_mode=True, want_diff=True)
    assert result["changed"] and not root.exists()
    assert result["diff"][0]["after"] == {"path": NET, "state": "directory", "mode": "0755"}
    assert [d["after"] for d in result["diff"][1:3]] == [f["content"] for f in FILES]


def test_check_mode_on_a_changed_host_shows_before_and_after(tmp_path):
    apply(tmp_path)
    before = tree(tmp_path)
    files = [dict(FILES[0], content="[Match]\nName=eth1\nMTUBytes=1500\n"), FILES[1]]
    digests = ["eth1=networkd:auto:master:cccc", DIGESTS[1]]
    result = apply(tmp_path, files, digests, check_mode=True, want_diff=True)
    assert result["changed_devices"] == ["eth1"] and result["written"] == [FILES[0]["path"]]
    assert result["diff"][0]["before"] == FILES[0]["content"] and "MTUBytes=1500" in result["diff"][0]["after"]
    assert tree(tmp_path) == before


def test_a_mode_change_alone_is_a_change(tmp_path):
    apply(tmp_path)
    os.chmod(str(tmp_path) + FILES[0]["path"], 0o600)
    result = apply(tmp_path, want_diff=True)
    assert result["written"] == [FILES[0]["path"]] and result["changed_devices"] == []
    assert result["diff"][0]["after"] == {"path": FILES[0]["path"], "mode": "0644"}
    assert mode(tmp_path, FILES[0]["path"]) == 0o644


def test_networkmanager_directory_and_files_are_private(tmp_path):
    path = "/etc/NetworkManager/system-connections/10-fabric-eth1.nmconnection"
    apply(tmp_path, [{"path": path, "content": "x\n", "mode": "0600"}], ["eth1=x"], backend="networkmanager")
    assert mode(tmp_path, "/etc/NetworkManager/system-connections") == 0o700 and mode(tmp_path, path) == 0o600
    assert mode(tmp_path, "/etc/NetworkManager") == 0o755


def test_stale_files_go_foreign_files_and_outside_paths_stay(tmp_path):
    apply(tmp_path)
    foreign = str(tmp_path) + NET + "/20-mgmt.network"
    victim = str(tmp_path) + "/etc/passwd"
    for path in (foreign, victim):
        with open(path, "w") as handle:
            handle.write("keep\n")
    os.mkdir(str(tmp_path) + NET + "/10-fabric-dir")
    manifest = json.loads(read(tmp_path, MANIFEST))
    manifest["files"] += ["/etc/passwd", NET + "/../../passwd", NET + "/..", NET + "/10-fabric-dir", "/etc/netplan/gone.yaml"]
    with open(str(tmp_path) + MANIFEST, "w") as handle:
        json.dump(manifest, handle)
    result = apply(tmp_path, FILES[:1], DIGESTS[:1], want_diff=True)
    assert result["removed"] == [FILES[1]["path"]] and result["changed_devices"] == ["eth2"]
    assert not os.path.exists(str(tmp_path) + FILES[1]["path"])
    assert os.path.exists(foreign) and os.path.exists(victim) and os.path.isdir(str(tmp_path) + NET + "/10-fabric-dir")
    assert {"before_header": FILES[1]["path"], "after_header": FILES[1]["path"],
            "before": {"path": FILES[1]["path"], "state": "file"},
            "after": {"path": FILES[1]["path"], "state": "absent"}} in result["diff"]
    assert json.loads(read(tmp_path, MANIFEST))["files"] == [FILES[0]["path"]]


def test_switching_backend_removes_the_old_backends_files(tmp_path):
    apply(tmp_path)
    netplan = [{"path": "/etc/netplan/10-fabric-links.yaml", "content": "network: {}\n", "mode": "0600"}]
    result = apply(tmp_path, netplan, ["eth1=netplan:networkd:master:aaaa", "eth2=netplan:networkd:master:bbbb"],
                   backend="netplan")
    assert result["removed"] == [f["path"] for f in FILES]
    assert result["changed_devices"] == ["eth1", "eth2"]
    assert os.listdir(str(tmp_path) + NET) == []


def test_changed_devices_keep_order_and_name_removed_devices_once():
    old = ["a=1", "b=1", "c=1"]
    assert changed_devices(old, ["b=2", "a=1", "d=1"]) == ["b", "d", "c"]
    assert changed_devices([], ["x=1", "x=2"]) == ["x"]


@pytest.mark.parametrize("files, digests, message", [
    ([{"path": "/etc/passwd", "content": "", "mode": "0644"}], [], r"files\[0\]\.path '/etc/passwd' must be a file directly in /etc/systemd/network"),
    ([{"path": NET + "/..", "content": "", "mode": "0644"}], [], r"must be a file directly in"),
    ([{"path": NET + "/a/b", "content": "", "mode": "0644"}], [], r"must be a file directly in"),
    ([FILES[0], FILES[0]], [], r"files\[1\]\.path .* is listed twice"),
    ([dict(FILES[0], mode="rw")], [], r"mode 'rw' must be an octal string"),
    ([dict(FILES[0], content=None)], [], r"files\[0\]\.content must be a string"),
    (FILES, ["eth1"], r"digests must be strings device=digest"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, files, digests, message):
    with pytest.raises(LinkApplyError, match=message):
        apply(tmp_path, files, digests)
    assert os.listdir(str(tmp_path)) == []


def test_unknown_backend_and_relative_manifest_are_refused(tmp_path):
    with pytest.raises(LinkApplyError, match="backend 'systemd' must be one of"):
        apply(tmp_path, backend="systemd")
    with pytest.raises(LinkApplyError, match="manifest 'x.json' must be an absolute file path"):
        converge(str(tmp_path), "networkd", FILES, DIGESTS, manifest="x.json")


def test_a_broken_manifest_names_itself(tmp_path):
    os.makedirs(os.path.dirname(str(tmp_path) + MANIFEST))
    with open(str(tmp_path) + MANIFEST, "w") as handle:
        handle.write("{not json")
    with pytest.raises(LinkApplyError, match="links-manifest.json is not JSON"):
        apply(tmp_path)


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    apply(tmp_path)

    def broken(fd, mode):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fchmod", broken)
    with pytest.raises(OSError, match="disk full"):
        apply(tmp_path, [dict(FILES[0], content="new\n"), FILES[1]])
    assert sorted(os.listdir(str(tmp_path) + NET)) == ["10-fabric-eth1.network", "10-fabric-eth2.network"]
    assert read(tmp_path, FILES[0]["path"]) == FILES[0]["content"]


class Shown(object):
    def __init__(self, returncode, stdout):
        self.returncode = returncode
        self.stdout = stdout


SHOW = ("Id=NetworkManager.service\nLoadState=not-found\nSubState=dead\nUnitFileState=\n\n"
        "Id=systemd-networkd.service\nLoadState=loaded\nSubState=running\nUnitFileState=enabled\n\n"
        "Id=networking.service\nLoadState=loaded\nSubState=exited\nUnitFileState=disabled\n")


def test_detect_reports_existing_units_and_netplan(tmp_path, monkeypatch):
    calls = []

    def run(argv, **kwargs):
        calls.append(argv)
        assert kwargs["check"] is False
        return Shown(0, SHOW)
    monkeypatch.setattr(link_apply.shutil, "which", lambda name: "/usr/bin/systemctl")
    netplan = tmp_path / "netplan"
    netplan.write_text("")
    found = detect(netplan=str(netplan), run=run)
    assert found == {"netplan": True, "services": {
        "systemd-networkd.service": {"state": "running", "status": "enabled"},
        "networking.service": {"state": "stopped", "status": "disabled"}}}
    assert calls[0][:2] == ["/usr/bin/systemctl", "show"] and calls[0][-3:] == list(link_apply.UNITS)
    assert detect(netplan=str(tmp_path / "none"), run=run)["netplan"] is False


def test_detect_without_systemd_finds_nothing_or_the_sysv_networking_script(monkeypatch):
    monkeypatch.setattr(link_apply.shutil, "which", lambda name: None)
    monkeypatch.setattr(link_apply.os.path, "exists", lambda path: path == "/etc/init.d/networking")
    found = detect(netplan="/nonexistent", run=None)
    assert found == {"netplan": False, "services": {"networking": {"state": "unknown", "status": "unknown"}}}


def test_detect_when_systemctl_cannot_talk_to_systemd(monkeypatch):
    monkeypatch.setattr(link_apply.shutil, "which", lambda name: "/usr/bin/systemctl")
    monkeypatch.setattr(link_apply.os.path, "exists", lambda path: False)
    found = detect(netplan="/nonexistent", run=lambda argv, **kwargs: Shown(1, ""))
    assert found == {"netplan": False, "services": {}}


def test_detect_runs_the_real_systemctl_when_there_is_one():
    found = detect(run=subprocess.run)
    assert set(found) == {"netplan", "services"}
    assert set(found["services"]) <= set(link_apply.UNITS) | {"networking"}


def test_a_directory_made_meanwhile_by_another_process_is_taken_as_it_is(tmp_path, monkeypatch):
    real_mkdir = os.mkdir

    def beaten(path, mode=0o777):
        real_mkdir(path, 0o700)    # another host's fork got there first
        raise FileExistsError(17, "File exists", path)

    monkeypatch.setattr(link_apply.os, "mkdir", beaten)
    target = tmp_path / "out" / "n2" / "etc" / "systemd" / "network"
    link_apply._make_directory(str(target), 0o755)
    assert target.is_dir()
    # a file in the way is still an error
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(link_apply.os, "mkdir", real_mkdir)
    with pytest.raises(FileExistsError):
        link_apply._make_directory(str(tmp_path / "file"), 0o755)

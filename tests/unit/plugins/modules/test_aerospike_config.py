# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aerospike_config module: the file's owner, the server unit's presence, check mode and diff."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import json
import os
import pwd

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import aerospike_config as module

CONFIG = {"service": {"cluster-name": "c1"}, "namespace": [{"name": "test", "replication-factor": 2}]}
ME = pwd.getpwuid(os.getuid())


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def params(**given):
    return dict(dict(owner=None, group=None, service_user=None), **given)


@pytest.mark.parametrize("given, expected", [
    ({}, (None, None)),
    ({"owner": "svc"}, ("svc", None)),
    ({"service_user": "no-such-user-here"}, ("root", "root")),
    ({"service_user": "no-such-user-here", "group": "adm"}, ("root", "adm")),
    ({"service_user": ME.pw_name}, (ME.pw_name, str(ME.pw_gid))),
    ({"service_user": ME.pw_name, "owner": "svc", "group": "adm"}, ("svc", "adm")),
])
def test_owner_and_group_fall_back_to_the_service_user_else_root(given, expected):
    assert module.file_owner(params(**given)) == expected


class FakeModule(object):
    def __init__(self, systemctl, out, rc=0):
        self.systemctl, self.out, self.rc, self.calls = systemctl, out, rc, []

    def get_bin_path(self, name):
        return self.systemctl if name == "systemctl" else None

    def run_command(self, args):
        self.calls.append(args)
        return self.rc, self.out, ""


@pytest.mark.parametrize("systemd, systemctl, out, rc, expected", [
    (True, "/bin/systemctl", "LoadState=loaded\n", 0, True),
    (True, "/bin/systemctl", "LoadState=masked\n", 0, True),
    (True, "/bin/systemctl", "LoadState=not-found\n", 0, False),
    (True, "/bin/systemctl", "", 1, False),
    (True, None, "", 0, False),
    (False, "/bin/systemctl", "LoadState=loaded\n", 0, False),
])
def test_the_unit_is_installed_when_systemd_knows_it(monkeypatch, systemd, systemctl, out, rc, expected):
    real_isdir = os.path.isdir
    monkeypatch.setattr(module.os.path, "isdir", lambda path: systemd if path == "/run/systemd/system" else real_isdir(path))
    fake = FakeModule(systemctl, out, rc)
    assert module.unit_installed(fake, "aerospike") is expected
    if systemd and systemctl:
        assert fake.calls == [[systemctl, "show", "--property=LoadState", "--", "aerospike.service"]]
        module.unit_installed(fake, "asd.service")
        assert fake.calls[-1][-1] == "asd.service"


def test_writes_the_file_owned_by_the_service_user_and_reports_the_unit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(module, "unit_installed", lambda mod, name: name == "aerospike")
    path = tmp_path / "aerospike.conf"
    code, result = run(dict(path=str(path), config=CONFIG, service_user=ME.pw_name, mode="0640",
                            service_name="aerospike"), capsys)
    assert code == 0 and result["changed"] is True and result["service_installed"] is True
    info = os.stat(str(path))
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (ME.pw_uid, ME.pw_gid, 0o640)
    assert path.read_text() == result["content"] and "namespace test {\n" in result["content"]
    code, again = run(dict(path=str(path), config=CONFIG, service_user=ME.pw_name, mode="0640"), capsys)
    assert code == 0 and again["changed"] is False and "service_installed" not in again


def test_check_mode_and_diff_write_nothing(tmp_path, capsys):
    path = tmp_path / "aerospike.conf"
    path.write_text("# old\n")
    code, result = run(dict(path=str(path), config=CONFIG, group=grp.getgrgid(ME.pw_gid).gr_name,
                            _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0 and result["changed"] is True
    assert result["diff"]["before"] == "# old\n" and "cluster-name c1" in result["diff"]["after"]
    assert path.read_text() == "# old\n"


def test_refuses_naming_host_source_and_place(tmp_path, capsys):
    path = tmp_path / "aerospike.conf"
    config = {"namespace": [{"name": "test", "replication-factor": "2 # two"}]}
    code, result = run(dict(path=str(path), config=config, host="db1",
                            sources={"namespace": "aerospike_namespaces"}), capsys)
    assert code == 1 and not path.exists()
    assert result["msg"].startswith("host db1: refusing to write aerospike.conf: "
                                    "aerospike_namespaces (namespace[test].replication-factor): ")
    assert result["problems"] == ["namespace[test].replication-factor: value '2 # two' contains '#', which starts a "
                                  "comment; aerospike.conf has no escaping, so the server would misread it"]

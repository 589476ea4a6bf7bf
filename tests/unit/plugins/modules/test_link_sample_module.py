# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The link_sample module: arguments, check mode, errors, what it returns."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.clusterfabric.multilink.plugins.modules import link_sample as module
from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    for device in ("eth1", "eth2"):
        stats = tmp_path / "net" / device / "statistics"
        stats.mkdir(parents=True)
        (stats / "tx_bytes").write_text("100\n")
        (stats / "rx_bytes").write_text("200\n")
    monkeypatch.setattr(link_sample, "SYS_NET", str(tmp_path / "net"))
    return tmp_path


def test_samples_in_check_mode_and_reads_the_status(sysfs, capsys):
    status = sysfs / "linkwatch.json"
    status.write_text(json.dumps({"updated": 1.0, "node": "n1", "links": {}, "peers": {}}))
    code, result = run(dict(links=[{"name": "fab0", "device": "eth1"}, {"name": "fab1", "device": "eth2"}],
                            seconds=0.2, interval=0.1, status_file=str(status), _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] is False
    assert [entry["tick"] for entry in result["samples"]] == [0, 1, 2]
    assert result["samples"][0]["bytes"] == {"fab0": [100, 200], "fab1": [100, 200]}
    assert result["status"]["node"] == "n1" and result["status_error"] is None
    assert result["clock"] >= result["samples"][-1]["time"]


def test_no_status_file_is_not_an_error(sysfs, capsys):
    code, result = run(dict(links=[{"name": "fab0", "device": "eth1"}], seconds=0.1, interval=0.1,
                            status_file=str(sysfs / "missing.json")), capsys)
    assert code == 0 and result["status"] is None and result["status_error"] is None


def test_a_missing_device_fails_naming_it(sysfs, capsys):
    code, result = run(dict(links=[{"name": "fab1", "device": "eth7"}], seconds=0.1, interval=0.1), capsys)
    assert code == 1 and "link fab1: this host has no interface eth7" in result["msg"]


def test_counts_fabric_connections_and_sees_the_server_in_check_mode(sysfs, capsys, monkeypatch):
    conntrack = sysfs / "nf_conntrack"
    conntrack.write_text("ipv4 2 tcp 6 431999 ESTABLISHED src=198.18.0.11 dst=198.18.0.12 sport=40000 dport=3001 "
                         "src=198.18.1.12 dst=198.18.1.11 sport=3001 dport=40000 [ASSURED] mark=0 zone=0 use=2\n")
    monkeypatch.setattr(link_sample, "CONNTRACK_FILE", str(conntrack))
    calls = []

    def run_command(self, args, **kwargs):
        calls.append(args)
        if "-Hltn" in args:
            return 0, "LISTEN 0 4096 127.0.0.1:3000 0.0.0.0:*\n", ""
        return 0, "0 0 198.18.0.11:40000 198.18.0.12:3001\n0 0 198.18.0.11:3001 198.18.0.12:50000\n", ""
    monkeypatch.setattr(module.AnsibleModule, "run_command", run_command)
    links = [{"name": "fab0", "device": "eth1", "subnet": "198.18.0.0/24"},
             {"name": "fab1", "device": "eth2", "subnet": "198.18.1.0/24"}]
    code, result = run(dict(links=links, seconds=0.1, interval=0.1, fabric_port=3001, service_port=3000,
                            _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] is False
    assert result["fabric_sockets"] == {"port": 3001, "links": {"fab0": {"out": 0, "in": 1}, "fab1": {"out": 1, "in": 0}},
                                        "other": 0, "moved": 1, "nat_view": True, "probes": 0, "error": None}
    assert result["service_listening"] is True
    assert calls == [link_sample.ss_command(3001), link_sample.ss_command(3000, listening=True)]


def test_without_ports_nothing_is_counted_and_a_failing_ss_is_no_failure(sysfs, capsys, monkeypatch):
    code, result = run(dict(links=[{"name": "fab0", "device": "eth1"}], seconds=0.1, interval=0.1), capsys)
    assert code == 0 and result["fabric_sockets"] is None and result["service_listening"] is None
    monkeypatch.setattr(module.AnsibleModule, "run_command", lambda self, args, **kwargs: (127, "", "ss: not found"))
    code, result = run(dict(links=[{"name": "fab0", "device": "eth1"}], seconds=0.1, interval=0.1,
                            fabric_port=3001, service_port=3000), capsys)
    assert code == 0 and result["samples"]
    assert result["fabric_sockets"]["error"] == "ss failed (127): ss: not found"
    assert result["fabric_sockets"]["links"] == {} and result["service_listening"] is None


def test_mptcp_counts_a_plain_socket_only_when_a_second_look_still_has_it(sysfs, capsys, monkeypatch):
    subflow = ("0 0 198.18.0.12:3001 198.18.0.11:40000\n"
               "\t cubic tcp-ulp-mptcp flags:Mec token:0000(id:0)/11174af8(id:0) seq:1\n")
    looks = [subflow + "0 0 198.18.0.12:3001 198.18.0.11:40001\n0 0 198.18.1.12:3001 198.18.1.11:40002\n",
             subflow + "0 0 198.18.1.12:3001 198.18.1.11:40002\n"]
    calls = []

    def run_command(self, args, **kwargs):
        if args != link_sample.subflows_command(3001):
            return 0, "", ""
        calls.append(args)
        return 0, looks[len(calls) - 1], ""
    monkeypatch.setattr(module.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(link_sample, "read_netstat", lambda path=None: {})
    links = [{"name": "fab0", "device": "eth1", "subnet": "198.18.0.0/24"},
             {"name": "fab1", "device": "eth2", "subnet": "198.18.1.0/24"}]
    code, result = run(dict(links=links, seconds=0.1, interval=0.1, fabric_port=3001, mptcp=True), capsys)
    assert code == 0 and calls == [link_sample.subflows_command(3001)] * 2, calls
    assert result["mptcp"]["plain"] == 1 and result["mptcp"]["connections"] == 1, result["mptcp"]

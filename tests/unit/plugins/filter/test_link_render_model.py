# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.clusterfabric.multilink.plugins.filter import link_backend as backend_plugin
from ansible_collections.clusterfabric.multilink.plugins.filter import link_render_model as plugin

LINKS = [{"name": "fab0", "subnet": "198.18.64.0/24", "device": "eth1"}]
PLAN = {"n1": {"fab0": ["198.18.64.11"]}}


def render(*args, **kwargs):
    return plugin.FilterModule().filters()["link_render_model"](*args, **kwargs)


def test_filter_returns_model_files_and_directory():
    model = render(PLAN, "n1", LINKS, backend="networkmanager")
    assert model["links"][0]["addresses"] == ["198.18.64.11/24"]
    assert model["directory"] == {"path": "/etc/NetworkManager/system-connections", "mode": "0700"}
    assert [f["path"] for f in model["files"]] == ["/etc/NetworkManager/system-connections/10-fabric-eth1.nmconnection"]


def test_filter_errors_name_host_and_variable():
    with pytest.raises(AnsibleFilterError, match=r"link_render_model: host n1: fabric_links\[0\] \(link fab0\)\.mtu"):
        render(PLAN, "n1", [dict(LINKS[0], mtu=1)])
    with pytest.raises(AnsibleFilterError, match=r"fabric_links_backend 'x'"):
        render(PLAN, "n1", LINKS, backend="x")


def test_backend_filter():
    pick = backend_plugin.FilterModule().filters()["link_backend"]
    assert pick({}, True) == {"backend": "netplan", "netplan_renderer": "networkd"}
    assert pick({}, False, backend="ifupdown")["backend"] == "ifupdown"
    with pytest.raises(AnsibleFilterError, match=r"link_backend: fabric_links_backend auto: found no netplan"):
        pick({}, False)
    with pytest.raises(AnsibleFilterError, match=r"'bogus' must be auto or one of"):
        pick({}, False, backend="bogus")

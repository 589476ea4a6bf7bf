# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendered aerospike.conf files against Aerospike's own JSON schemas (../shared/aerospike-schemas).

Each file is rendered, parsed back from its text, converted the way asconfig does and validated
with jsonschema against the newest schema not newer than the target version.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils.address_plan import plan_addresses
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import parse, render
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_network import build_network
from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_schema import (
    load_schema, schema_errors, schema_file_for, to_schema_shape,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCHEMAS = os.path.join(os.path.dirname(ROOT), "shared", "aerospike-schemas")

if not os.path.isdir(SCHEMAS):
    REASON = "Aerospike schemas not found at %s (../shared/aerospike-schemas beside the repository)" % SCHEMAS
    sys.__stderr__.write("SKIP %s: %s\n" % (__name__, REASON))
    pytest.skip(REASON, allow_module_level=True)

TWO = [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"}]
FOUR = [{"name": "fab0", "subnet": "198.18.10.0/24"}, {"name": "fab1", "subnet": "198.18.11.0/24"},
        {"name": "fab6", "subnet": "2001:db8:20::/64"},
        {"name": "bond0", "subnet": "198.18.20.0/24", "bond_hash": {"policy": "layer2+3", "slaves": 2, "kernel": "6.1"}}]
IPV6 = [{"name": "v6a", "subnet": "2001:db8:30::/64"}, {"name": "v6b", "subnet": "2001:db8:31::/64"}]
VERSIONS = ["6.0", "6.4", "7.0", "7.2", "8.0", "8.1", "8.1.1"]


def namespace(version):
    if version.startswith("6."):
        return {"name": "test", "replication-factor": 2, "memory-size": "4G", "default-ttl": "30d",
                "storage-engine": "memory", "set": [{"name": "users", "enable-index": True}]}
    return {"name": "test", "replication-factor": 2, "default-ttl": "30d",
            "storage-engine": {"type": "memory", "data-size": "4G"}, "set": [{"name": "users", "enable-index": True}]}


def config(version, links, strategy="balanced", nodes=5, **network_options):
    full_plan = plan_addresses({"db%d" % i: i for i in range(1, nodes + 1)}, links)
    if any(":" in link["subnet"] for link in links):
        network_options.setdefault("edition", "enterprise")  # Community Edition binds IPv4 only
    return {
        "service": {"cluster-name": "c1", "proto-fd-max": 15000, "feature-key-file": "/etc/aerospike/features.conf"},
        "logging": {"console": {"context": "any info"},
                    "file": [{"name": "/var/log/aerospike/aerospike.log", "context": ["any info", "fabric debug"]}]},
        "network": build_network("db1", full_plan, links, version=version, strategy=strategy, **network_options),
        "namespace": [namespace(version),
                      {"name": "disk", "replication-factor": 2,
                       "memory-size": "1G" if version.startswith("6.") else None,
                       "storage-engine": {"type": "device", "file": ["/opt/aerospike/disk.dat"], "filesize": "16G",
                                          "data-in-memory": False if version.startswith("6.") else None}}],
        "mod-lua": {"user-path": "/opt/aerospike/usr/udf/lua"},
    }


def errors_for(data, version):
    # Validate what the server would read: the rendered text, parsed back.
    return schema_errors(parse(render(data)), load_schema(SCHEMAS, version))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("links", [TWO, FOUR, IPV6], ids=["two-links", "four-links-ipv6-bond", "ipv6-only"])
@pytest.mark.parametrize("strategy", ["balanced", "single"])
def test_rendered_files_match_the_schema_of_their_version(version, links, strategy):
    assert errors_for(config(version, links, strategy), version) == []


@pytest.mark.parametrize("version", ["7.2", "8.1"])
def test_network_extras_match_the_schema(version):
    extra = {"fabric": {"channel-rw-fds": 16, "send-threads": 8, "channel-bulk-recv-threads": 4},
             "heartbeat": {"protocol": "v3", "mtu": 1500}}
    data = config(version, TWO, heartbeat_connect_timeout_ms=500, extra=extra,
                  service_access_addresses=["203.0.113.10"], service_alternate_access_addresses=["198.51.100.10"])
    assert errors_for(data, version) == []


@pytest.mark.parametrize("version, change, expected", [
    ("7.2", lambda d: d["service"].update({"no-such-option": 1}), "'no-such-option' was unexpected"),
    ("8.1", lambda d: d["network"].update({"info": {"port": 3003}}), "'info' was unexpected"),
    ("8.0", lambda d: d["network"].update({"admin": {"port": 3003}}), "'admin' was unexpected"),
    ("7.2", lambda d: d["network"]["heartbeat"].update({"mode": "broadcast"}), "'broadcast' is not one of"),
    ("7.2", lambda d: d["network"].pop("fabric"), "'fabric' is a required property"),
    ("6.4", lambda d: d["namespace"][0].pop("memory-size"), "'memory-size' is a required property"),
    ("7.2", lambda d: d["network"]["fabric"].update({"port": [3001, 3011]}), "is not of type 'integer'"),
], ids=["unknown-key", "info-under-8.1", "admin-under-8.0", "bad-enum", "missing-fabric",
        "6.x-needs-memory-size", "repeated-single-value-key"])
def test_deliberately_wrong_configs_fail(version, change, expected):
    data = config(version, TWO)
    change(data)
    errors = errors_for(data, version)
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize("version, expected", [
    ("6.0", "6.0.0.json"), ("6.4.9", "6.4.0.json"), ("6.5", "6.4.0.json"), ("7.2", "7.2.0.json"),
    ("7.3", "7.2.0.json"), ("8.0", "8.0.0.json"), ("8.1", "8.1.0.json"), ("8.1.1", "8.1.1.json"), ("9.0", "8.1.1.json"),
])
def test_newest_schema_not_newer_than_the_version(version, expected):
    assert os.path.basename(schema_file_for(SCHEMAS, version)) == expected


def test_no_schema_for_older_versions():
    with pytest.raises(ValueError, match="no schema"):
        schema_file_for(SCHEMAS, "5.7")


def test_conversion_follows_asconfig():
    text = (
        "service {\n    cluster-name c1\n    feature-key-file /a\n}\n"
        "logging {\n    console {\n        context any info\n    }\n"
        "    file /var/log/a.log {\n        context any warning\n        context fabric debug\n    }\n}\n"
        "network {\n    heartbeat {\n        mode mesh\n        mesh-seed-address-port 2001:db8::c 3002\n    }\n"
        "    fabric {\n        address 198.18.10.11\n        port 3001\n    }\n}\n"
        "namespace test {\n    default-ttl 1h\n    storage-engine device {\n        file /d1\n        file /d2\n"
        "        filesize 1G\n    }\n    set s1 {\n        enable-index true\n    }\n}\n"
        "namespace old {\n    storage-engine memory\n}\n"
    )
    assert to_schema_shape(parse(text)) == {
        "service": {"cluster-name": "c1", "feature-key-file": "/a"},
        "logging": [{"name": "console", "any": "info"},
                    {"name": "/var/log/a.log", "any": "warning", "fabric": "debug"}],
        "network": {"heartbeat": {"mode": "mesh", "mesh-seed-address-ports": ["2001:db8::c:3002"]},
                    "fabric": {"addresses": ["198.18.10.11"], "port": 3001}},
        "namespaces": [
            {"name": "test", "default-ttl": 3600,
             "storage-engine": {"type": "device", "files": ["/d1", "/d2"], "filesize": 1 << 30},
             "sets": [{"name": "s1", "enable-index": True}]},
            {"name": "old", "storage-engine": {"type": "memory"}},
        ],
    }

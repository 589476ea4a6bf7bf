# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aerospike.conf writer, parser, checks and network-block replacement."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.clusterfabric.multilink.plugins.module_utils.aerospike_conf import (
    AerospikeConfError, check, describe, normalize, parse, render, replace_block, validate,
)

EXAMPLE = {
    "service": {"cluster-name": "east", "proto-fd-max": 15000},
    "logging": {
        "console": {"context": "any info"},
        "file": [{"name": "/var/log/aerospike/aerospike.log", "context": ["any info", "fabric debug"]}],
    },
    "network": {
        "service": {"address": "any", "port": 3000},
        "heartbeat": {"mode": "mesh", "port": 3002, "mesh-seed-address-port": ["198.18.0.12 3002", "2001:db8::c 3002"],
                      "interval": 150, "timeout": 10, "connect-timeout-ms": 500},
        "fabric": {"address": ["198.18.0.11", "2001:db8::b"], "port": 3001, "channel-rw-fds": None},
        "info": {"port": 3003},
    },
    "namespace": [{
        "name": "test",
        "replication-factor": 2,
        "storage-engine": {"type": "device", "file": "/opt/aerospike/test.dat", "filesize": "4G"},
        "set": {"name": "s1", "enable-index": True},
    }, {"name": "bar", "storage-engine": "memory"}],
}

EXAMPLE_TEXT = """\
# written by a test

service {
    cluster-name east
    proto-fd-max 15000
}

logging {
    console {
        context any info
    }
    file /var/log/aerospike/aerospike.log {
        context any info
        context fabric debug
    }
}

network {
    service {
        address any
        port 3000
    }
    heartbeat {
        mode mesh
        port 3002
        mesh-seed-address-port 198.18.0.12 3002
        mesh-seed-address-port 2001:db8::c 3002
        interval 150
        timeout 10
        connect-timeout-ms 500
    }
    fabric {
        address 198.18.0.11
        address 2001:db8::b
        port 3001
    }
    info {
        port 3003
    }
}

namespace test {
    replication-factor 2
    storage-engine device {
        file /opt/aerospike/test.dat
        filesize 4G
    }
    set s1 {
        enable-index true
    }
}

namespace bar {
    storage-engine memory
}
"""


def test_render_writes_contexts_repeated_lines_and_named_contexts():
    assert render(EXAMPLE, header="written by a test") == EXAMPLE_TEXT


def test_parse_gives_the_canonical_data_back():
    parsed = parse(EXAMPLE_TEXT)
    assert parsed == normalize(EXAMPLE)
    # repeatable settings are lists even when they occur once; named contexts are lists
    assert parsed["network"]["service"]["address"] == ["any"]
    assert parsed["namespace"][0]["set"] == [{"name": "s1", "enable-index": True}]
    assert parsed["namespace"][0]["storage-engine"]["type"] == "device"
    assert "channel-rw-fds" not in parsed["network"]["fabric"]
    assert render(parsed, header="written by a test") == EXAMPLE_TEXT


def test_parse_ignores_comments_blank_lines_and_tabs():
    text = "# top\nservice {   # trailing\n\tcluster-name  x # c\n\n}\nnamespace a {\n\tstorage-engine memory\n}\n"
    assert parse(text) == {"service": {"cluster-name": "x"}, "namespace": [{"name": "a", "storage-engine": "memory"}]}


@pytest.mark.parametrize("text, message", [
    ("service {\n", "not closed"),
    ("}\n", "without an open context"),
    ("service {\nproto-fd-max\n}\n", "has no value"),
    ("service {\n}\nservice {\n}\n", "appears twice"),
    ("namespace a b {\n}\n", "more than one name"),
])
def test_parse_rejects_broken_files(text, message):
    with pytest.raises(AerospikeConfError, match=message):
        parse(text)


BAD = [
    ({"service": {"cluster-name": "a#b"}}, "service.cluster-name", "'#'"),
    ({"service": {"cluster-name": "a\nb"}}, "service.cluster-name", "newline"),
    ({"service": {"cluster-name": "a{"}}, "service.cluster-name", "'{'"),
    ({"service": {"cluster-name": "}"}}, "service.cluster-name", "'}'"),
    ({"service": {"cluster-name": " "}}, "service.cluster-name", "empty"),
    ({"service": {"cluster-name": 1.5}}, "service.cluster-name", "quote it"),
    ({"service": {"pidfile": "a b c d"}}, "service.pidfile", "at most 3 values"),
    ({"service": {"bad key": 1}}, "service.bad key", "not a valid"),
    ({"namespace": [{"name": "n#1"}]}, "namespace.name", "'#'"),
    ({"namespace": [{"name": "two words"}]}, "namespace.name", "one word"),
    ({"namespace": [{"replication-factor": 2}]}, "namespace", "needs a name"),
    ({"namespace": [{"name": "n", "storage-engine": {"file": "/x"}}]}, "namespace[n].storage-engine", "needs a type"),
    ({"namespace": [{"name": "n", "set": [{"name": "s", "x": "#"}]}]}, "namespace[n].set[s].x", "'#'"),
    ({"network": {"service": {"port": 1023}}}, "network.service.port", "1024 to 65535"),
    ({"network": {"service": {"port": 65536}}}, "network.service.port", "1024 to 65535"),
    ({"network": {"service": {"tls-port": 0}}}, "network.service.tls-port", "1024 to 65535"),
    ({"network": {"heartbeat": {"mesh-seed-address-port": ["10.0.0.1 80"]}}},
     "network.heartbeat.mesh-seed-address-port[0]", "port 80"),
    ({"network": {"heartbeat": {"mesh-seed-address-port": ["10.0.0.1"]}}},
     "network.heartbeat.mesh-seed-address-port[0]", "needs HOST PORT"),
    ({"network": {"heartbeat": {"interval": 150, "timeout": 10, "connect-timeout-ms": 501}}},
     "network.heartbeat.connect-timeout-ms", "150 * 10 / 3 = 500"),
    ({"network": {"heartbeat": {"connect-timeout-ms": 501}}}, "network.heartbeat.connect-timeout-ms", "more than"),
    ({"network": {"heartbeat": {"interval": 100, "timeout": 5, "connect-timeout-ms": 167}}},
     "network.heartbeat.connect-timeout-ms", "166.67"),
    ({"cluster": {"x": 1}}, "cluster", "unknown top-level context"),
    ({"network": "x"}, "network", "must be a context"),
    ({"namespace": {"replication-factor": 2}}, "namespace", "list of mappings"),
    ({"service": {"pidfile": "/" + "x" * 1030}}, "service.pidfile", "1023 bytes"),
]


@pytest.mark.parametrize("data, path, message", BAD, ids=[b[2] + "@" + b[1] for b in BAD])
def test_check_refuses_what_the_server_would_misread(data, path, message):
    problems = check(data)
    assert any(p == path and message in m for p, m in problems), problems
    with pytest.raises(AerospikeConfError):
        validate(data)


def test_check_reports_every_problem_at_once():
    problems = check({"service": {"a": "#", "b": "{"}, "xdr2": {}})
    assert [p for p, _m in problems] == ["xdr2", "service.a", "service.b"]


def test_describe_names_host_variable_and_place():
    problems = check({"namespace": [{"name": "test", "replication-factor": "2 # two"}], "cluster": {"size": 3}})
    sources = {"namespace": "aerospike_namespaces"}
    text = describe(problems, "db1", sources)
    assert text.startswith("host db1: refusing to write aerospike.conf: cluster: unknown top-level context 'cluster'")
    assert "; aerospike_namespaces (namespace[test].replication-factor): value '2 # two' contains '#'" in text
    assert describe([("", "no top-level 'network {' block")]) == \
        "refusing to write aerospike.conf: config: no top-level 'network {' block"


@pytest.mark.parametrize("data", [
    {"network": {"heartbeat": {"interval": 150, "timeout": 10, "connect-timeout-ms": 500}}},
    {"network": {"service": {"port": 1024}, "fabric": {"port": 65535}}},
    {"service": {"pidfile": "/" + "x" * (1023 - len("    pidfile /"))}},
    {"namespace": [{"name": "n", "storage-engine": "memory"}]},
])
def test_check_accepts_the_limits(data):
    assert check(data) == []


def test_seed_limit_counts_plain_and_tls_seeds():
    heartbeat = {"mesh-seed-address-port": ["10.0.0.%d 3002" % i for i in range(6)],
                 "tls-mesh-seed-address-port": ["10.0.1.%d 3012" % i for i in range(3)]}
    problems = check({"network": {"heartbeat": heartbeat}}, max_seeds=8)
    assert problems and "9 seed lines" in problems[0][1]
    heartbeat["tls-mesh-seed-address-port"].pop()
    assert check({"network": {"heartbeat": heartbeat}}, max_seeds=8) == []


# ---------------------------------------------------------------- round trip on generated data

TOKEN = st.from_regex(r"\A[A-Za-z0-9_./:-]{1,12}\Z")
KEY = st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z").filter(
    lambda k: k not in ("name", "type", "storage-engine", "index-type", "sindex-type"))
SCALAR = st.one_of(st.integers(-10 ** 12, 10 ** 12), st.booleans(), TOKEN,
                   st.lists(TOKEN, min_size=2, max_size=3).map(" ".join))


def bodies(depth):
    values = [SCALAR, st.lists(SCALAR, min_size=1, max_size=3)]
    if depth:
        inner = bodies(depth - 1)
        values.append(inner)
        values.append(st.lists(st.tuples(TOKEN, inner), min_size=1, max_size=2).map(
            lambda items: [dict([("name", name)] + list(body.items())) for name, body in items]))
    return st.dictionaries(KEY, st.one_of(values), max_size=4)


@settings(max_examples=300, deadline=None)
@given(bodies(2))
def test_round_trip_is_exact(data):
    text = render(data)
    parsed = parse(text)
    assert parsed == normalize(data)
    assert render(parsed) == text
    assert normalize(parsed) == parsed


# ---------------------------------------------------------------- network block replacement

OWNED_BY_SOMEONE_ELSE = (
    "# hand-written, keep me\r\n"
    "service {\r\n"
    "\tproto-fd-max 15000   # tuned\r\n"
    "}\r\n"
    "\n"
    "network {   # old\n"
    "\tservice {\n\t\tport 3000\n\t}\n"
    "\tfabric {\n\t\tport 3001\n"
    "\t}\n"
    "}\n"
    "namespace test {\n\tstorage-engine memory\n}   \n"
    "# caf\xe9 \udcff\n"
)


def test_replace_block_keeps_every_other_byte():
    network = {"fabric": {"address": ["198.18.0.11"], "port": 3001}}
    out = replace_block(OWNED_BY_SOMEONE_ELSE, network)
    start = OWNED_BY_SOMEONE_ELSE.index("network {")
    end = OWNED_BY_SOMEONE_ELSE.index("namespace test")
    assert out[:start] == OWNED_BY_SOMEONE_ELSE[:start]
    assert out[-len(OWNED_BY_SOMEONE_ELSE[end:]):] == OWNED_BY_SOMEONE_ELSE[end:]
    assert out[start:-len(OWNED_BY_SOMEONE_ELSE[end:])] == (
        "network {\n    fabric {\n        address 198.18.0.11\n        port 3001\n    }\n}\n")
    assert replace_block(out, network) == out


def test_replace_block_ignores_network_inside_comments_and_nested_contexts():
    text = "# network {\nxdr {\n    network {\n    }\n}\nnetwork {\n}\n"
    out = replace_block(text, {"fabric": {"port": 3001}})
    assert out.startswith("# network {\nxdr {\n    network {\n    }\n}\nnetwork {\n    fabric {")


@pytest.mark.parametrize("text, message", [
    ("service {\n}\n", "no top-level 'network {' block"),
    ("network {\n}\nnetwork {\n}\n", "2 top-level"),
    ("network {\n", "not closed"),
    ("}\n", "without an open context"),
])
def test_replace_block_refuses_files_it_cannot_edit_safely(text, message):
    with pytest.raises(AerospikeConfError, match=message):
        replace_block(text, {"fabric": {"port": 3001}})

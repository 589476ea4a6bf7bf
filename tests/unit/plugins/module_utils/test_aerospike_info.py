# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info protocol against a fake server on loopback: framing, parsing, waiting."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import struct
import threading

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import aerospike_info


class FakeNode(object):
    """Answers info requests on 127.0.0.1 with ``answers`` (a list: one per connection, the last repeats)."""

    def __init__(self, answers, raw=None):
        self.answers = list(answers)
        self.raw = raw
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            with conn:
                header = conn.recv(8)
                length = struct.unpack(">Q", header)[0] & 0xFFFFFFFFFFFF
                body = b""
                while len(body) < length:
                    body += conn.recv(length - len(body))
                self.requests.append((header, body))
                if self.raw is not None:
                    conn.sendall(self.raw)
                    continue
                stats = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
                names = body.decode().split("\n")[:-1]
                reply = "".join("%s\t%s\n" % (name, stats if name == "statistics" else "v-" + name)
                                for name in names).encode()
                conn.sendall(struct.pack(">Q", (2 << 56) | (1 << 48) | len(reply)) + reply)

    def close(self):
        self.sock.close()


@pytest.fixture
def node():
    nodes = []

    def make(answers, raw=None):
        nodes.append(FakeNode(answers, raw))
        return nodes[-1]
    yield make
    for item in nodes:
        item.close()


def test_request_frames_names_and_parses_lines(node):
    fake = node(["cluster_size=2;cluster_integrity=true"])
    answers = aerospike_info.request("127.0.0.1", fake.port, ["statistics", "build"])
    assert answers == {"statistics": "cluster_size=2;cluster_integrity=true", "build": "v-build"}
    header, body = fake.requests[0]
    assert header == b"\x02\x01\x00\x00\x00\x00\x00\x11" and body == b"statistics\nbuild\n"


def test_pairs_keeps_values_with_equals_signs_and_skips_junk():
    assert aerospike_info.pairs("a=1;b=x=y;;junk;c=") == {"a": "1", "b": "x=y", "c": ""}


def test_an_answer_of_another_kind_is_refused(node):
    fake = node([], raw=struct.pack(">Q", (2 << 56) | (3 << 48) | 2) + b"ab")
    with pytest.raises(aerospike_info.InfoError, match="not an info answer"):
        aerospike_info.request("127.0.0.1", fake.port, ["statistics"])


def test_a_closed_port_is_an_info_error_naming_it():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(aerospike_info.InfoError, match="port %d" % port):
        aerospike_info.request("127.0.0.1", port, ["statistics"], timeout=1)


def test_wait_for_polls_until_every_value_shows(node):
    fake = node(["cluster_size=1;cluster_integrity=true", "cluster_size=1;cluster_integrity=true",
                 "cluster_size=2;cluster_integrity=true"])
    stats, waited, missing, error = aerospike_info.wait_for(
        "127.0.0.1", fake.port, {"cluster_size": 2, "cluster_integrity": True}, timeout=10, interval=0.01)
    assert missing == {} and error is None and stats["cluster_size"] == "2"
    assert len(fake.requests) == 3 and waited < 10


def test_wait_for_times_out_with_what_it_saw():
    ticks = iter(range(100))
    stats, waited, missing, error = aerospike_info.wait_for(
        "127.0.0.1", 1, {"cluster_size": 2}, timeout=3, interval=0,
        clock=lambda: next(ticks), sleep=lambda seconds: None)
    assert missing == {"cluster_size": ("2", None)} and "port 1" in error and waited == 3 and stats == {}


def test_unmet_compares_as_strings_and_booleans_in_lower_case():
    assert aerospike_info.unmet({"a": "2", "b": "true"}, {"a": 2, "b": True}) == {}
    assert aerospike_info.unmet({"a": "3"}, {"a": 2, "b": False}) == {"a": ("2", "3"), "b": ("false", None)}

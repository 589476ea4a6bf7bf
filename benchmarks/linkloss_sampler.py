# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-node sampler of benchmarks/linkloss.py: link byte counters and TCP sockets per link.

Copied into each test node and run there with the node's python3 (standard library only):

    python3 linkloss_sampler.py OUT INTERVAL SECONDS PORTS LINK=DEVICE=SUBNET ...

Every INTERVAL seconds it appends one JSON line to OUT:

    {"t": 1795851150.97, "bytes": {"fab0": [tx, rx], ...},
     "sockets": {"fab0": {"3001": {"out": 6, "in": 6, "retrans": 0, "queued": 0}, "3002": {...}}, ...}}

``out`` counts established sockets this node opened to the port, ``in`` those it accepted on
it; ``retrans`` those of them that are retransmitting (unacknowledged data and a retransmission
count above 0: a socket stuck on a dead path), ``queued`` those with unsent or unacknowledged
bytes, ``probing`` those whose keepalive timer has sent unanswered probes (an idle socket whose
peer went silent). An accepted socket belongs to the link whose subnet holds its local address;
an opened one to the link of the peer address it really reaches, which under the NAT split is
not the address the application connected to: the conntrack entry's reply source tells (the
socket's own addresses name the link Aerospike picked, not the one it rides). IPv4 only. The
timestamps are the node's wall clock, which test containers share with the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import struct
import sys
import time

ESTABLISHED = "01"


def hex_ipv4(text):
    """'0B00A8C0' (/proc/net/tcp, host byte order on little-endian) -> '192.168.0.11'."""
    return socket.inet_ntoa(struct.pack("<I", int(text, 16)))


def ipv4_int(address):
    return struct.unpack(">I", socket.inet_aton(address))[0]


def parse_links(specs):
    """['fab0=eth0=198.19.176.0/24', ...] -> [(name, device, network int, mask int)]."""
    links = []
    for spec in specs:
        name, device, subnet = spec.split("=", 2)
        network, length = subnet.split("/")
        mask = (0xFFFFFFFF << (32 - int(length))) & 0xFFFFFFFF
        links.append((name, device, ipv4_int(network) & mask, mask))
    return links


def link_of(address, links):
    value = ipv4_int(address)
    for name, dummy, network, mask in links:
        if value & mask == network:
            return name
    return None


def parse_conntrack(text, ports):
    """Established TCP entries of /proc/net/nf_conntrack to ``ports`` whose reply comes from
    another address than the original destination (DNAT, the NAT split):
    {(src, sport, dst, dport): real peer address}."""
    wanted = set(str(port) for port in ports)
    out = {}
    for line in text.splitlines():
        if " tcp " not in line or "ESTABLISHED" not in line:
            continue
        fields = [word.split("=", 1) for word in line.split() if "=" in word]
        values = [value for key, value in fields if key in ("src", "dst", "sport", "dport")]
        if len(values) < 8 or values[3] not in wanted:
            continue
        orig_src, orig_dst, orig_sport, orig_dport, reply_src = values[:5]
        if reply_src != orig_dst:
            out[(orig_src, int(orig_sport), orig_dst, int(orig_dport))] = reply_src
    return out


def parse_tcp(text, links, ports, nat=None):
    """Established sockets of a /proc/net/tcp text, per link and port (see the module docstring).

    An accepted socket belongs to the link of its local address; one this node opened to the link
    of the peer address it really reaches: its remote address, or where the NAT split sent it
    (``nat``, from parse_conntrack)."""
    counts = dict((name, dict((str(port), {"out": 0, "in": 0, "retrans": 0, "queued": 0, "probing": 0})
                              for port in ports))
                  for name, dummy, dummy2, dummy3 in links)
    wanted = set(int(port) for port in ports)
    nat = nat or {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 9 or fields[3] != ESTABLISHED:
            continue
        local, local_port = fields[1].split(":")
        remote, remote_port = fields[2].split(":")
        local_port, remote_port = int(local_port, 16), int(remote_port, 16)
        if local_port in wanted:
            port, side, address = local_port, "in", hex_ipv4(local)
        elif remote_port in wanted:
            port, side = remote_port, "out"
            address = hex_ipv4(remote)
            address = nat.get((hex_ipv4(local), local_port, address, remote_port), address)
        else:
            continue
        name = link_of(address, links)
        if name is None:
            continue
        entry = counts[name][str(port)]
        entry[side] += 1
        tx_queue = int(fields[4].split(":")[0], 16)
        retransmits = int(fields[6], 16)
        if tx_queue:
            entry["queued"] += 1
            if retransmits:
                entry["retrans"] += 1
        if fields[5].startswith("02:") and int(fields[8]) > 0:
            entry["probing"] += 1
    return counts


def read_bytes(links):
    out = {}
    for name, device, dummy, dummy2 in links:
        values = []
        for key in ("tx_bytes", "rx_bytes"):
            with open("/sys/class/net/%s/statistics/%s" % (device, key)) as handle:
                values.append(int(handle.read()))
        out[name] = values
    return out


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def sample(links, ports):
    nat = parse_conntrack(read("/proc/net/nf_conntrack"), ports)
    return {"t": round(time.time(), 4), "bytes": read_bytes(links),
            "sockets": parse_tcp(read("/proc/net/tcp"), links, ports, nat)}


def main(argv):
    path, interval, seconds, ports = argv[0], float(argv[1]), float(argv[2]), argv[3].split(",")
    links = parse_links(argv[4:])
    end = time.time() + seconds
    with open(path, "a") as handle:
        while time.time() < end:
            started = time.time()
            handle.write(json.dumps(sample(links, ports), sort_keys=True) + "\n")
            handle.flush()
            time.sleep(max(0.0, interval - (time.time() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

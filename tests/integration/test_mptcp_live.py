# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fabric_strategy mptcp on a live two-node test bed with the real Aerospike server.

site.yml with fabric_strategy mptcp converges and a second run changes nothing; the server runs
with mptcpize's LD_PRELOAD library (from the node image), its fabric connections are MPTCP
connections with one subflow per link (``ss -tni``: tcp-ulp-mptcp tokens, grouped per connection
by link_sample.mptcp_subflows, what verify.yml reports), the endpoints and limits are in place,
the nat role's rules are gone. With n1's fab1 link down for 3 s (carrier loss) no fabric connection
breaks and every connection has its fab1 subflow again (the subflows only waited; the watchdogs look
and re-add nothing). With the fab1 subflows killed first (ss -K: subflows that died, which the kernel
never re-creates) both watchdogs delete their fab1 endpoints and add them back a second later, and
every connection has its fab1 subflow again (one round on a quiet machine; in a loaded CI run a
second round did it); a converge then changes nothing.
Switching the strategy back to balanced removes the endpoints, the drop-in, the boot unit and the
sysctl file, and the NAT rules come back.

/proc/sys is read-only in the containers: the test bed sets net.mptcp.blackhole_timeout=0 when it
makes them (testbed_sysctls), so the role finds the wanted values and writes no sysctl.
Containers and networks: cfm-mpl-* (links 198.19.140.0/24, 198.19.141.0/24).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import link_sample, mptcp_apply
from testbed import aerospike as tba
from testbed import inventory as tbi

NODES = {"n1": 1, "n2": 2}
GROUP = "mpl"
PREFIX = "cfm-mpl"
LIBRARY = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
LINKS = [{"name": "fab0", "subnet": "198.19.140.0/24", "device": "eth0"},
         {"name": "fab1", "subnet": "198.19.141.0/24", "device": "eth1"}]
GROUP_VARS = {
    "fabric_links": LINKS, "testbed_rate_mbit": 200, "fabric_ports": [3001], "fabric_strategy": "mptcp",
    "fabric_links_backend": "networkd", "aerospike_version": "8.1", "aerospike_restart": True,
    "aerospike_restart_wait": "cluster", "fabric_mptcp_restart": True,
    "aerospike_namespaces": [{"name": "test", "replication-factor": 2,
                              "storage-engine": {"type": "memory", "data-size": "512M"}}],
    "testbed_sysctls": {"net.mptcp.blackhole_timeout": "0"},
}


site = tbi.site


@pytest.fixture(scope="module")
def bed(server_bed):
    return server_bed


@pytest.fixture(scope="module")
def converged(bed):
    result, found, stats = site(bed)
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    server = tba.Server(bed)
    server.wait_cluster(timeout=120)
    wait_connections(bed)
    return found, stats


def wait_connections(bed, count=24, timeout=90):
    """Until every node has ``count`` MPTCP fabric connections (12 each way: a new cluster opens them one
    by one, slowly on a loaded machine)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(subflows(bed, host)["connections"] >= count for host in NODES):
            return
        time.sleep(1)


def ss_subflows(bed, host):
    """``ss`` of ``host``'s fabric port with the subflows' info (link_sample.subflows_command)."""
    return bed.run(host, " ".join("'%s'" % word if " " in word else word
                                  for word in link_sample.subflows_command(3001))).stdout


def subflows(bed, host):
    """link_sample.mptcp_subflows() of two looks at ``host``'s fabric port, as verify.yml takes them."""
    earlier, later = link_sample.subflow_looks(lambda: ss_subflows(bed, host))
    return link_sample.mptcp_subflows(LINKS, 3001, later, earlier=earlier)


def test_site_converges_and_a_second_run_changes_nothing(bed, converged):
    found, stats = converged
    for host in NODES:
        applied = found["Multipath TCP for the fabric connections"][host]
        assert applied["changed"] and applied["library"] == LIBRARY, applied
    result, again, stats = site(bed)
    assert result.returncode == 0, result.stdout[-4000:]
    changed = dict((host, stats[host]["changed"]) for host in NODES)
    assert changed == {"n1": 0, "n2": 0}, [(name, host, outcome.get("diff"), outcome.get("restart"))
                                           for name, hosts in again.items()
                                           for host, outcome in hosts.items() if outcome.get("changed")]
    check, dummy, stats = site(bed, "--check", "--diff")
    assert check.returncode == 0 and dict((host, stats[host]["changed"]) for host in NODES) == {"n1": 0, "n2": 0}


def test_the_node_has_endpoints_limits_units_and_no_nat_rules(bed, converged):
    for host in NODES:
        endpoints = mptcp_apply.parse_endpoints(bed.run(host, "ip mptcp endpoint show").stdout)
        assert [(e["id"], e["address"], e["flags"], e["dev"]) for e in endpoints] == [
            (101, bed.plan[host]["fab0"][0], ["signal"], "eth0"), (102, bed.plan[host]["fab1"][0], ["signal"], "eth1")]
        assert mptcp_apply.parse_limits(bed.run(host, "ip mptcp limits show").stdout) == \
            {"subflows": 8, "add_addr_accepted": 8}
        assert "clusterfabric_multilink" not in bed.run(host, "nft list tables").stdout
        assert bed.run(host, "systemctl is-enabled %s" % mptcp_apply.UNIT).stdout.strip() == "enabled"
        assert bed.run(host, "systemctl is-active clusterfabric-linkwatch").stdout.strip() == "active"
        status = json.loads(bed.run(host, "cat /run/clusterfabric/linkwatch.json").stdout)
        assert status["kind"] == "mptcp" and sorted(status["links"]) == ["fab0", "fab1"]
        assert [e["id"] for e in status["links"]["fab1"]["endpoints"]] == [102]
        dropin = bed.run(host, "systemctl cat aerospike.service").stdout
        assert "Environment=LD_PRELOAD=%s" % LIBRARY in dropin
        assert "Before=aerospike.service" in bed.run(host, "cat %s" % mptcp_apply.UNIT_PATH).stdout
        assert bed.run(host, "systemctl is-active mptcp.service", check=False).stdout.strip() != "active"


def test_the_server_runs_with_the_library_and_every_fabric_connection_has_a_subflow_per_link(bed, converged):
    for host in NODES:
        pid = bed.run(host, "systemctl show -p MainPID --value aerospike").stdout.strip()
        assert pid not in ("", "0")
        assert "LD_PRELOAD=%s" % LIBRARY in bed.run(host, "tr '\\0' '\\n' < /proc/%s/environ" % pid).stdout
        assert "libmptcpwrap" in bed.run(host, "cat /proc/%s/maps" % pid).stdout
        assert re.search(r"\b3001\b", bed.run(host, "ss -Mnl").stdout), "no MPTCP listener on 3001"
        report = subflows(bed, host)
        print("%s: %s" % (host, json.dumps(report, sort_keys=True)))
        # 12 fabric connections each way (rw 8, bulk 2, ctrl 1, meta 1), every one MPTCP
        assert report["connections"] >= 24 and report["opened"] >= 12, report
        assert report["plain"] == 0 and report["other"] == 0, report
        assert report["short"] == 0, report
        for link in ("fab0", "fab1"):
            assert report["links"][link]["connections"] == report["connections"], report
    counters = link_sample.parse_netstat(bed.run("n1", "cat /proc/net/netstat").stdout)
    assert counters.get("MPJoinSynAckRx", 0) + counters.get("MPJoinSynRx", 0) > 0, counters


def connections(bed, host):
    """{local token: [links of its subflows]} of ``host``'s MPTCP fabric connections."""
    sockets = link_sample.parse_subflows(ss_subflows(bed, host))
    networks = link_sample.link_networks(LINKS)
    out = {}
    for local, dummy, dummy2, dummy3, token in sockets:
        if token is not None:
            out.setdefault(token, []).extend(name for name, network in networks if local in network)
    return out


def readds(bed):
    """{host: the fab1 figures of its watchdog's status file}."""
    return dict((host, json.loads(bed.run(host, "cat /run/clusterfabric/linkwatch.json").stdout)["links"]["fab1"])
                for host in NODES)


def flap(bed, seconds=3, timeout=30):
    """n1's fab1 down for ``seconds`` and up again; (connections of n1 during, {host: connections} when
    every connection had both links again or at ``timeout``, seconds that took, whole)."""
    target, down, up = bed.failure("carrier", "n1", "n2", "fab1")
    bed.run(target, down)
    time.sleep(seconds)
    during = connections(bed, "n1")
    bed.run(target, up)
    started = time.time()
    while True:
        after = dict((host, connections(bed, host)) for host in NODES)
        whole = all(sorted(set(links)) == ["fab0", "fab1"] for found in after.values() for links in found.values())
        if whole or time.time() - started > timeout:
            return during, after, time.time() - started, whole


def test_a_link_lost_and_back_keeps_every_connection_and_its_subflows(bed, converged):
    before = dict((host, connections(bed, host)) for host in NODES)
    assert all(len(found) >= 24 for found in before.values()), before
    first = readds(bed)
    during, after, back, whole = flap(bed)
    time.sleep(3)  # the watchdogs look at the subflows a second after the paths are back
    now = readds(bed)
    print("link fab1 of n1 down 3 s: %d connections during, every one on both links again %.1f s after the link came "
          "up; re-adds %s, skipped %s" % (len(during), back, dict((h, now[h]["readded"] - first[h]["readded"]) for h in NODES),
                                          dict((h, now[h]["readd_skipped"] - first[h]["readd_skipped"]) for h in NODES)))
    # no connection broke: the same connections (local tokens) before, during and after
    assert set(during) == set(before["n1"])
    for host in NODES:
        assert set(after[host]) == set(before[host]), host
    assert whole, after
    # the subflows only waited for the link: the watchdogs saw them whole and re-added nothing (a re-add
    # would have closed them)
    assert all(now[h]["readded"] == first[h]["readded"] for h in NODES), (first, now)
    assert any(now[h]["readd_skipped"] > first[h]["readd_skipped"] for h in NODES), (first, now)
    after_check = dict((host, connections(bed, host)) for host in NODES)
    assert all(sorted(set(links)) == ["fab0", "fab1"] for found in after_check.values() for links in found.values())


def test_subflows_that_died_come_back_after_the_watchdogs_re_add(bed, converged):
    before = dict((host, connections(bed, host)) for host in NODES)
    first = readds(bed)
    # subflows that died (the kernel never re-creates them): n1 kills its fab1 subflows
    bed.run("n1", "ss -K state established '( sport = :3001 or dport = :3001 )' dst %s" % bed.plan["n2"]["fab1"][0])
    killed = connections(bed, "n1")
    assert set(killed) == set(before["n1"]) and all(links == ["fab0"] for links in killed.values()), killed
    during, after, back, whole = flap(bed)
    now = readds(bed)
    short = dict((host, sum(1 for links in after[host].values() if sorted(set(links)) != ["fab0", "fab1"])) for host in NODES)
    print("n1's fab1 subflows killed, then link fab1 of n1 down 3 s: %s connections without fab1 after %.1f s; "
          "re-adds %s" % (short, back, dict((h, now[h]["readded"] - first[h]["readded"]) for h in NODES)))
    for host in NODES:
        assert set(after[host]) == set(before[host]), host
    assert all(now[h]["readded"] > first[h]["readded"] for h in NODES), (first, now)
    assert whole, short
    # the endpoints are the role's again (one may carry the id of the implicit endpoint it took over)
    result, found, dummy = site(bed)
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    assert not any(found["Multipath TCP for the fabric connections"][host]["changed"] for host in NODES), found


def rejoins_used(bed, host):
    """{local token: add_addr_accepted} of the MPTCP fabric connections ``host`` opened: the
    announced addresses each one's path manager has joined (ss leaves out a 0)."""
    out = {}
    for line in bed.run(host, "ss -HMni state established '( dport = :3001 )'").stdout.splitlines():
        token = re.search(r"(?:^|\s)token:([0-9a-f]+)", line)
        if token:
            used = re.search(r"(?:^|\s)add_addr_accepted:(\d+)", line)
            out[token.group(1)] = int(used.group(1)) if used else 0
    return out


def test_a_link_lost_longer_than_the_servers_keepalive_keeps_every_subflow_and_every_re_join(bed, converged):
    # With the server's default fabric keepalive-time (1 s) the kernel closed an idle subflow on the
    # lost link about 10 s in, and each such death used up one of the connection's 8 re-joins for
    # good; the role's keepalive-time (600 s under mptcp) keeps them through the loss.
    for host in NODES:
        assert "keepalive-time 600" in bed.run(host, "sed -n '/fabric {/,/}/p' /etc/aerospike/aerospike.conf").stdout
    before = dict((host, connections(bed, host)) for host in NODES)
    used = dict((host, rejoins_used(bed, host)) for host in NODES)
    first = readds(bed)
    during, after, back, whole = flap(bed, seconds=15)
    time.sleep(3)  # the watchdogs look at the subflows a second after the paths are back
    now = readds(bed)
    print("link fab1 of n1 down 15 s: every connection on both links again %.1f s after; re-adds %s; re-joins used "
          "before %s, after %s" % (back, dict((h, now[h]["readded"] - first[h]["readded"]) for h in NODES),
                                   dict((h, sorted(set(used[h].values()))) for h in NODES),
                                   dict((h, sorted(set(rejoins_used(bed, h).values()))) for h in NODES)))
    for host in NODES:
        assert set(after[host]) == set(before[host]), host
    assert whole, after
    assert all(now[h]["readded"] == first[h]["readded"] for h in NODES), (first, now)
    assert dict((host, rejoins_used(bed, host)) for host in NODES) == used
    assert all(now[h]["short"] == {"opened": 0, "accepted": 0} and now[h]["exhausted"] == 0 for h in NODES), now


def delete_fab1_endpoint(bed, host):
    """Delete ``host``'s endpoint on its fab1 address, whatever id a re-add left it with."""
    for endpoint in mptcp_apply.parse_endpoints(bed.run(host, "ip mptcp endpoint show").stdout):
        if endpoint["address"] == bed.plan[host]["fab1"][0]:
            bed.run(host, "ip mptcp endpoint delete id %d" % endpoint["id"], check=False)


def test_connections_that_used_up_their_re_joins_are_reported_until_the_server_opens_them_anew(bed, converged):
    # Subflows that died (ss -K) and the watchdogs' re-add (their endpoints went missing), round after
    # round. A connection whose fab1 join died re-joins with one more of its 8 places each round; one
    # whose first subflow was on fab1 re-joins that address without using a place (the kernel does
    # not count a connection's initial address as a new one), so it stays where it started.
    start = rejoins_used(bed, "n1")
    fab1 = dict((host, bed.plan[host]["fab1"][0]) for host in NODES)
    rounds = 0
    used = start
    while rounds < 12 and (rounds < 2 or any(start[token] < count < 8 for token, count in used.items())):
        rounds += 1
        bed.run("n1", "ss -K state established '( sport = :3001 or dport = :3001 )' dst %s" % fab1["n2"])
        bed.run("n1", "ss -K state established '( sport = :3001 or dport = :3001 )' src %s" % fab1["n1"])
        for host in NODES:
            delete_fab1_endpoint(bed, host)
        time.sleep(4)   # the watchdogs see their endpoints missing (resync 1 s) and re-add them (1 s pause)
        used = rejoins_used(bed, "n1")
    full = sorted(token for token, count in used.items() if count == 8)
    print("%d rounds of dead fab1 subflows and re-adds: n1's connections used %s of their 8 places (they started "
          "with %s)" % (rounds, sorted(used.values()), sorted(start.values())))
    assert set(used) == set(start) and full, used
    assert all(used[token] == start[token] for token in used if token not in full), (start, used)
    # one more death: the peer's next announcement of fab1 is not joined by those any more
    bed.run("n1", "ss -K state established '( sport = :3001 or dport = :3001 )' dst %s" % fab1["n2"])
    delete_fab1_endpoint(bed, "n2")
    deadline = time.time() + 30
    # (the others, back on their first address, rejoin it when n2's watchdog has re-added it)
    while time.time() < deadline and (readds(bed)["n1"].get("exhausted"), readds(bed)["n1"].get("short", {}).get("opened")) != \
            (len(full), len(full)):
        time.sleep(1)
    status = readds(bed)["n1"]
    journal = bed.run("n1", "journalctl -u clusterfabric-linkwatch -o cat --no-pager").stdout
    print("then n1's status for fab1: short %s, exhausted %s" % (status["short"], status["exhausted"]))
    assert status["exhausted"] == len(full) and status["short"]["opened"] == len(full), status
    assert "link fab1: %d connection%s this node opened can no longer get a subflow on it" % (
        len(full), "" if len(full) == 1 else "s") in journal
    # a restart of the servers opens every connection anew: whole again, nothing exhausted
    for host in NODES:
        bed.run(host, "systemctl restart aerospike")
    tba.Server(bed).wait_cluster(timeout=120)
    wait_connections(bed)
    deadline = time.time() + 40
    while time.time() < deadline and any(readds(bed)[h].get("exhausted") for h in NODES):
        time.sleep(1)
    assert not any(readds(bed)[h]["exhausted"] for h in NODES), readds(bed)
    assert "link fab1: no connection is exhausted any more" in \
        bed.run("n1", "journalctl -u clusterfabric-linkwatch -o cat --no-pager").stdout
    assert all(subflows(bed, host)["short"] == 0 for host in NODES)


def test_switching_back_to_balanced_removes_it_all(bed, converged):
    result, found, stats = site(bed, "-e", "fabric_strategy=balanced")
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-3000:])
    for host in NODES:
        assert found["Multipath TCP for the fabric connections"][host]["changed"]
        assert [e for e in mptcp_apply.parse_endpoints(bed.run(host, "ip mptcp endpoint show").stdout)
                if e["id"] in mptcp_apply.OUR_IDS] == []
        assert mptcp_apply.parse_limits(bed.run(host, "ip mptcp limits show").stdout) == mptcp_apply.KERNEL_LIMITS
        for path in (mptcp_apply.UNIT_PATH, mptcp_apply.dropin_path("aerospike.service"), mptcp_apply.SYSCTL_FILE):
            assert bed.run(host, "test -e %s" % path, check=False).returncode == 1, path
        assert "LD_PRELOAD" not in bed.run(host, "systemctl cat aerospike.service").stdout
        # the nat role owns the watchdog again, in NAT mode, and its rules are back
        assert "clusterfabric_multilink" in bed.run(host, "nft list tables").stdout
        status = json.loads(bed.run(host, "cat /run/clusterfabric/linkwatch.json").stdout)
        assert status.get("kind", "nat") == "nat", status
    tba.Server(bed).wait_cluster(timeout=120)
    for host in NODES:
        pid = bed.run(host, "systemctl show -p MainPID --value aerospike").stdout.strip()
        assert "libmptcpwrap" not in bed.run(host, "cat /proc/%s/maps" % pid).stdout
        assert subflows(bed, host)["connections"] == 0
    again, dummy, stats = site(bed, "-e", "fabric_strategy=balanced")
    assert again.returncode == 0 and dict((host, stats[host]["changed"]) for host in NODES) == {"n1": 0, "n2": 0}

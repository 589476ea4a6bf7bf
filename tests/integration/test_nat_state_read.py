# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric_nat state read against a concurrent ``nft -c`` of the same tables (issue 13).

Two check runs on one host failed with "No such file or directory": the old read listed the
tables (``nft list tables``) and then each of ours (``nft list table``), and an ``nft -c`` of
the same script in between shows the tables it checks, empty, for an instant. Here, in a
network namespace of its own (the host's ruleset is never touched), a loop of ``nft -c -f``
runs while both reads run again and again: the old two-call read must fail at least once, the
new one-call read (nat_apply.read_nft) must give the same answer every time. Needs root and
nft; about a minute.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.clusterfabric.multilink.plugins.module_utils import nat_apply
from ansible_collections.clusterfabric.multilink.plugins.plugin_utils import nat_rules

PLAN = {"n1": {"fab0": ["198.18.0.11"], "fab1": ["198.18.1.11"]},
        "n2": {"fab0": ["198.18.0.12"], "fab1": ["198.18.1.12"]},
        "n3": {"fab0": ["198.18.0.13"], "fab1": ["198.18.1.13"]}}
LINKS = [{"name": "fab0", "device": "lo"}, {"name": "fab1", "device": "lo"}]
OLD_TRIES = 3000          # the old read failed about once in 60 here; it gets this many tries
NEW_READS = 600           # the new read must be right every time
SECONDS = 150             # per phase, whatever the machine's load


class NamespaceHost(object):
    """nat_apply's host: commands run inside one network namespace (reads only here)."""

    def __init__(self, namespace):
        self.namespace = namespace

    @staticmethod
    def which(name):
        return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")

    def run(self, argv, data=None):
        result = subprocess.run(["ip", "netns", "exec", self.namespace] + list(argv), input=data,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return result.returncode, result.stdout, result.stderr


def two_step_read(tools, runtime):
    """The read before issue 13: ``nft list tables``, then ``nft -j list table`` per family of ours."""
    nft = tools.find("nft")
    out = tools.run([nft, "list", "tables"], what="nft list tables")
    families = sorted(fields[1] for fields in (line.split() for line in out.splitlines())
                      if len(fields) == 3 and fields[0] == "table" and fields[2] == nat_apply.TABLE)
    texts = [nat_apply.canonical(json.loads(tools.run([nft, "-j", "list", "table", family, nat_apply.TABLE],
                                                      what="nft -j list table %s" % family))["nftables"], runtime)
             for family in families]
    return {"families": families, "digest": nat_apply.sha256("\n".join(texts))}


@pytest.fixture(scope="module")
def namespace():
    if os.geteuid() != 0 or not NamespaceHost.which("nft") or not shutil.which("ip"):
        raise AssertionError("this test needs root, nft and ip (iproute2)")
    name = "cfm-natread-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def checking(namespace, script_path):
    """A background loop of ``nft -c -f`` of the script, as a second check run on the host does."""
    return subprocess.Popen(["ip", "netns", "exec", namespace, "sh", "-c",
                             "while :; do nft -c -f %s >/dev/null 2>&1; done" % script_path])


def outcomes(read, tries, stop_at_first_wrong=False, expected=None):
    """{answer or error: count} of up to ``tries`` reads (within SECONDS)."""
    seen = {}
    deadline = time.time() + SECONDS
    for dummy in range(tries):
        try:
            live = read()
            answer = "%s %s" % (",".join(live["families"]), live["digest"][:12])
        except nat_apply.FabricError as exc:
            answer = "error: %s" % str(exc).splitlines()[0]
        seen[answer] = seen.get(answer, 0) + 1
        if (stop_at_first_wrong and answer != expected) or time.time() > deadline:
            break
    return seen


@pytest.mark.parametrize("loaded", [True, False], ids=["tables-loaded", "no-tables"])
def test_one_call_reads_the_state_right_while_another_run_checks_the_same_tables(namespace, tmp_path, loaded):
    host = NamespaceHost(namespace)
    tools = nat_apply.Tools(host)
    model = nat_rules.build(PLAN, "n1", LINKS, watchdog=True)
    script = nat_rules.render_nft(model)
    path = tmp_path / "nat.nft"
    path.write_text(script)
    # Loaded: our ip table (the check makes an ip6 one show); not loaded: none of ours (both show).
    tools.run(["nft", "-f", str(path) if loaded else "/dev/stdin"], data=None if loaded else nat_apply.nft_remove_script())
    quiet_new = nat_apply.read_nft(tools, runtime=True)
    quiet_old = two_step_read(tools, runtime=True)
    assert quiet_new == quiet_old, "the one-call read must keep the digests of state files written before"
    assert quiet_new["families"] == (["ip"] if loaded else [])
    expected = "%s %s" % (",".join(quiet_new["families"]), quiet_new["digest"][:12])
    loop = checking(namespace, path)
    try:
        time.sleep(0.2)
        old = outcomes(lambda: two_step_read(tools, runtime=True), OLD_TRIES, stop_at_first_wrong=True, expected=expected)
        new = outcomes(lambda: nat_apply.read_nft(tools, runtime=True), NEW_READS)
    finally:
        loop.kill()
        loop.wait()
    print("old read: %s\nnew read: %s" % (json.dumps(old), json.dumps(new)))
    assert set(old) != {expected}, "the old read did not hit the race in %d tries: %s" % (sum(old.values()), old)
    assert new == {expected: sum(new.values())} and sum(new.values()) >= min(NEW_READS, 300), new

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m testbed up|down -i INVENTORY [--cluster NAME] [-e VARS]... | image | measure ... (testbed.measure)"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import sys

from testbed import podman as pm
from testbed.cluster import clusters


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["measure"]:
        from testbed import measure  # pylint: disable=import-outside-toplevel
        return measure.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m testbed", description="podman test bed clusters")
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    for name, text in (("up", "(re)create every cluster of the inventory"), ("down", "remove them")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("-i", "--inventory", required=True)
        cmd.add_argument("--cluster")
        cmd.add_argument("-e", "--extra-vars", action="append", default=[], metavar="VARS",
                         help="override inventory variables as ansible-playbook -e does (e.g. testbed_rate_mbit=100)")
    sub.add_parser("image", help="build the node image (cached); print it and the server it carries")
    sub.add_parser("measure", help="measure a converged cluster through playbooks/verify.yml (python -m testbed measure -h)")
    args = parser.parse_args(argv)
    try:
        if args.command == "image":
            image = pm.node_image()
            print("%s aerospike=%s" % (image.ref, image.aerospike or "none"))
            return 0
        found = clusters(args.inventory, args.cluster, args.extra_vars)
        image = pm.node_image() if args.command == "up" else None
        for cluster in found:
            if args.command == "up":
                cluster.up(image)
                print("testbed: cluster %s up: %s (%s)" % (
                    cluster.topo.cluster, ", ".join(cluster.container(h) for h in cluster.hosts),
                    "Aerospike %s in the image" % image.aerospike if image.aerospike else "no Aerospike server"))
            else:
                cluster.down()
                print("testbed: cluster %s down" % cluster.topo.cluster)
        return 0
    except pm.TestbedError as exc:
        print("testbed: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

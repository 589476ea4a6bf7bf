# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/reference/: every module, filter and role of the collection as Markdown.

Read from `ansible-doc --json` (so it shows exactly what ansible-doc shows), with Ansible's
markup (O(), V(), P(), ...) turned into Markdown by antsibull-docs-parser. Markdown, not
reStructuredText: the repository host renders it as it is, tables included, and every
cross-reference is a relative link to another file of this directory.

    python hack/docs_reference.py DEST      (make docs-reference; make docs-check compares)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

from antsibull_docs_parser import dom, md, parser
from antsibull_docs_parser.format import LinkProvider

COLLECTION = "clusterfabric.multilink"
TYPES = ("module", "filter", "role")
BIN = os.path.dirname(sys.executable)


def ansible_doc(*args):
    result = subprocess.run([os.path.join(BIN, "ansible-doc")] + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if result.returncode != 0:
        raise SystemExit("ansible-doc %s failed: %s" % (" ".join(args), result.stderr))
    return json.loads(result.stdout)


def file_name(name, kind):
    return "%s_%s.md" % (name, kind)


class Links(LinkProvider):
    """Cross-references to plugins of this collection become links to their files here."""

    def __init__(self, known):
        self.known = known

    def plugin_link(self, plugin):
        if plugin.fqcn.startswith(COLLECTION + ".") and (plugin.fqcn, plugin.type) in self.known:
            return file_name(plugin.fqcn.rsplit(".", 1)[1], plugin.type)
        return None

    def plugin_option_like_link(self, plugin, entrypoint, what, name, current_plugin):
        page = self.plugin_link(plugin)
        if page is None:
            return None
        prefix = "parameter" if what == "option" else "return"
        anchor = "%s-%s" % (prefix, "-".join(part.lower() for part in name).replace("_", "-"))
        return (page if current_plugin is None or plugin != current_plugin else "") + "#" + anchor


def text(value, plugin, links, separator=" "):
    if value is None:
        return ""
    paragraphs = parser.parse(value, parser.Context(current_plugin=plugin), errors="message")
    return md.to_md(paragraphs, link_provider=links, current_plugin=plugin, par_sep=separator).replace("\n", " ")


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def option_rows(options, plugin, links, prefix="", kind="parameter"):
    rows = []
    for name in sorted(options or {}):
        spec = options[name]
        full = prefix + name
        anchor = "%s-%s" % (kind, full.replace(".", "-").replace("_", "-").lower())
        described = spec.get("description") or ""
        description = text(described if isinstance(described, list) else [described], plugin, links, "<br>")
        facts = []
        kind_text = spec.get("type", "str")
        if spec.get("elements"):
            kind_text += " of " + spec["elements"]
        if spec.get("required"):
            facts.append("**required**")
        if spec.get("choices"):
            facts.append("choices: " + ", ".join("`%s`" % json.dumps(choice) for choice in spec["choices"]))
        if "default" in spec and spec["default"] is not None:
            facts.append("default: `%s`" % json.dumps(spec["default"]))
        if kind == "return" and spec.get("returned"):
            facts.append("returned: " + spec["returned"])
        rows.append('| <a id="%s"></a>`%s` | %s | %s%s |' % (
            anchor, full, cell(kind_text), cell(description), ("<br>" + cell("; ".join(facts))) if facts else ""))
        children = spec.get("suboptions") or spec.get("options") or spec.get("contains")
        if children:
            rows.extend(option_rows(children, plugin, links, full + ".", kind))
    return rows


def table(options, plugin, links, kind="parameter"):
    if not options:
        return ["None."]
    return ["| name | type | description |", "|---|---|---|"] + option_rows(options, plugin, links, kind=kind)


def page(name, kind, data, links):
    fqcn = "%s.%s" % (COLLECTION, name)
    plugin = dom.PluginIdentifier(fqcn=fqcn, type=kind)
    lines = []
    if kind == "role":
        main = data["entry_points"]["main"]
        lines += ["# %s role: %s" % (fqcn, main.get("short_description", "")), ""]
        lines += [text(main.get("description"), plugin, links, "\n\n"), "", "## Variables", ""]
        lines += table(main.get("options"), plugin, links)
        return "\n".join(lines) + "\n"
    doc = data["doc"]
    lines += ["# %s %s: %s" % (fqcn, kind, doc.get("short_description", "")), ""]
    description = doc.get("description") or []
    for paragraph in description if isinstance(description, list) else [description]:
        lines += ["- " + text([paragraph], plugin, links)]
    options = dict(doc.get("options") or {})
    if kind == "filter":
        given = {"_input": options.pop("_input")} if "_input" in options else {}
        lines += ["", "## Input", ""] + table(given, plugin, links)
        positional = doc.get("positional") or []
        if positional:
            positional = positional.split(",") if isinstance(positional, str) else positional
            lines += ["", "Positional parameters, in this order: %s." % ", ".join("`%s`" % p.strip() for p in positional)]
        lines += ["", "## Keyword parameters" if kind == "filter" else "## Parameters", ""]
    else:
        lines += ["", "## Parameters", ""]
    lines += table(options, plugin, links)
    attributes = doc.get("attributes") or {}
    if attributes:
        lines += ["", "## Attributes", "", "| attribute | support | details |", "|---|---|---|"]
        for attribute in sorted(attributes):
            spec = attributes[attribute]
            details = cell(text(spec.get("details"), plugin, links))
            lines.append("| %s | %s | %s |" % (attribute, cell(spec.get("support", "")), details))
    if data.get("examples"):
        lines += ["", "## Examples", "", "```yaml", data["examples"].strip("\n"), "```"]
    lines += ["", "## Return values", ""] + table(data.get("return"), plugin, links, "return")
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python hack/docs_reference.py DEST")
    dest = argv[0]
    names = dict((kind, sorted(name.rsplit(".", 1)[1] for name in ansible_doc("--list", "--json", "-t", kind, COLLECTION)))
                 for kind in TYPES)
    links = Links(set(("%s.%s" % (COLLECTION, name), kind) for kind in TYPES for name in names[kind]))
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    index = ["# clusterfabric.multilink reference", "",
             "Generated from `ansible-doc` by `make docs-reference`; `make docs-check` fails when it is stale.", ""]
    for kind in TYPES:
        index += ["## %ss" % kind.capitalize(), ""]
        for name in names[kind]:
            data = ansible_doc("--json", "-t", kind, "%s.%s" % (COLLECTION, name))["%s.%s" % (COLLECTION, name)]
            with open(os.path.join(dest, file_name(name, kind)), "w") as handle:
                handle.write(page(name, kind, data, links))
            short = data["entry_points"]["main"].get("short_description", "") if kind == "role" \
                else data["doc"].get("short_description", "")
            index.append("- [%s](%s): %s" % (name, file_name(name, kind), short))
        index.append("")
    with open(os.path.join(dest, "README.md"), "w") as handle:
        handle.write("\n".join(index))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""Carry the spec's multicast group flags into ynl-gen-c.py's kernel source.

The genetlink schema lets a multicast group have `flags: [ admin-perm ]`, but
ynl-gen-c.py (6.12) writes every group as { "name", } and drops its flags. A
group with admin-perm must only be joined with CAP_NET_ADMIN in the netns
(GENL_MCAST_CAP_NET_ADMIN, in 6.1.y and 6.12), as an op with admin-perm is
GENL_ADMIN_PERM. This adds `.flags = GENL_MCAST_CAP_NET_ADMIN` to those groups'
entries and fails if a group of the spec is not found. Usage:
ynl-mcgrp-flags.py SPEC vifq_nl.c (rewritten in place).
"""
import re
import sys

import yaml


def main(spec_path, source_path):
    with open(spec_path, encoding='utf-8') as f:
        spec = yaml.safe_load(f)
    with open(source_path, encoding='utf-8') as f:
        source = f.read()
    for group in spec.get('mcast-groups', {}).get('list', []):
        flags = group.get('flags', [])
        unknown = set(flags) - {'admin-perm'}
        if unknown:
            sys.exit(f'ynl-mcgrp-flags: group {group["name"]}: unknown flags {sorted(unknown)}')
        if not flags:
            continue
        entry = re.compile(r'(\] = \{ "' + re.escape(group['name']) + r'", )\},')
        source, n = entry.subn(r'\1.flags = GENL_MCAST_CAP_NET_ADMIN, },', source)
        if n != 1:
            sys.exit(f'ynl-mcgrp-flags: group {group["name"]} not found once in {source_path}')
    with open(source_path, 'w', encoding='utf-8') as f:
        f.write(source)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(sys.argv[1], sys.argv[2])

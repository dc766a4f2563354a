#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
"""Adapt ynl-gen-c.py's kernel output (6.12) to the genl API of Linux 6.1.

ynl-gen-c.py emits struct genl_split_ops (one entry per do and per dump of a
command) and .split_ops/.n_split_ops in the family; split ops arrived in 6.2.
6.1 has struct genl_ops: one entry per command with .doit and .dumpit, one
.policy/.maxattr for both, and the GENL_CMD_CAP_* flags computed by the core.
This merges the entries of each command, refusing commands whose do and dump
have different request policies, and rewrites the family fields; range
validation structs lose their const (6.1's policy pointer is not const). Usage:
ynl-compat-6.1.py vifq_nl.h vifq_nl.c (rewritten in place).
"""
import re
import sys

NOTE = ('/* Adapted to Linux 6.1: the split ops generated above are merged into\n'
        ' * struct genl_ops, one entry per command: 6.1 has no split ops.\n'
        ' */\n')


def struct_init(members):
    """Same layout as ynl-gen-c.py's CodeWriter.write_struct_init()."""
    longest = max(len(name) for name, _ in members) + 1
    longest = ((longest + 8) // 8) * 8
    lines = []
    for name, value in members:
        tabs = '\t' * ((longest - len(name) - 1 + 7) // 8)
        lines.append(f'\t\t.{name}{tabs}= {value},')
    return lines


def merge_ops(src):
    m = re.search(r'static const struct genl_split_ops (\w+)\[\] = \{\n(.*?)\n\};\n',
                  src, re.S)
    if not m:
        raise SystemExit('ynl-compat-6.1: no genl_split_ops table found')
    entries = re.findall(r'\t\{\n(.*?)\n\t\},', m.group(2), re.S)
    cmds = {}
    order = []
    for entry in entries:
        fields = {}
        for line in entry.split('\n'):
            fm = re.fullmatch(r'\t\t\.(\w+)\s*= (.*),', line)
            if not fm:
                raise SystemExit(f'ynl-compat-6.1: cannot parse {line!r}')
            fields[fm.group(1)] = fm.group(2)
        cmd = fields.pop('cmd')
        flags = [f.strip() for f in fields.pop('flags', '').split('|') if f.strip()]
        flags = [f for f in flags if not f.startswith('GENL_CMD_CAP_')]
        if cmd not in cmds:
            cmds[cmd] = {'fields': {}, 'flags': []}
            order.append(cmd)
        merged = cmds[cmd]
        for key, value in fields.items():
            if key in merged['fields'] and merged['fields'][key] != value:
                raise SystemExit(f'ynl-compat-6.1: {cmd}: do and dump differ in .{key}')
            merged['fields'][key] = value
        for f in flags:
            if f not in merged['flags']:
                merged['flags'].append(f)
    out = [f'static const struct genl_ops {m.group(1)}[] = {{']
    keys = ['doit', 'dumpit', 'start', 'done', 'policy', 'maxattr', 'validate']
    for cmd in order:
        merged = cmds[cmd]
        unknown = set(merged['fields']) - set(keys)
        if unknown:
            raise SystemExit(f'ynl-compat-6.1: {cmd}: unsupported {sorted(unknown)}')
        members = [('cmd', cmd)]
        members += [(k, merged['fields'][k]) for k in keys if k in merged['fields']]
        if merged['flags']:
            members.append(('flags', ' | '.join(merged['flags'])))
        out.append('\t{')
        out += struct_init(members)
        out.append('\t},')
    out.append('};\n')
    return src[:m.start()] + NOTE + '\n'.join(out) + src[m.end():]


def main():
    hdr, src_path = sys.argv[1], sys.argv[2]
    with open(src_path) as f:
        src = f.read()
    src = merge_ops(src)
    # 6.1's nla_policy points to a non-const netlink_range_validation
    src = re.sub(r'static const (struct netlink_range_validation(_signed)? )',
                 r'static \1', src)
    src = src.replace('\t.split_ops\t= ', '\t.ops\t\t= ')
    src = src.replace('\t.n_split_ops\t= ', '\t.n_ops\t\t= ')
    if 'split_ops' in src:
        raise SystemExit('ynl-compat-6.1: split_ops left in ' + src_path)
    with open(src_path, 'w') as f:
        f.write(src)
    with open(hdr) as f:
        if 'genl_split_ops' in f.read():
            raise SystemExit('ynl-compat-6.1: genl_split_ops in ' + hdr + ' (pre/post hooks?)')


if __name__ == '__main__':
    main()

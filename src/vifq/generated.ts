/* SPDX-License-Identifier: MIT */
/* Do not edit directly, auto-generated from: */
/*	kernel-patch/vifq.yaml */
/* YNL-GEN ts (scripts/gen-vifq-types.ts; check with --check) */
/* eslint-disable */

/** The generic netlink family name and the version the spec describes. */
export const VIFQ_FAMILY = { name: 'vifq', version: 1 } as const;

export const VIFQ_DOMID_MAX = 32751;
export const VIFQ_HIST_BUCKETS = 24;

export const VIFQ_PRIORITY_NAMES = ['high', 'low'] as const;
export type VifqPriority = (typeof VIFQ_PRIORITY_NAMES)[number];

export const VIFQ_MCAST_GROUPS = ['config', 'reports'] as const;
export type VifqMcastGroup = (typeof VIFQ_MCAST_GROUPS)[number];

// ---- attribute sets

export interface VifqVifAttrs {
  /**
   * ifindex of the vif's netdev; selects the vif in requests.
   * Checks: min 1 (enforced when encoding).
   */
  ifindex?: number;
  /**
   * Domain id of the guest; with handle, selects the vif.
   * Checks: max 32751 (enforced when encoding).
   */
  domid?: number;
  /** The vif's handle (devid) within its guest. */
  handle?: number;
  /** Name of the vif's netdev. */
  ifname?: string;
  /**
   * Limit on pending bytes, 0 for none, at most 2^31 - 1 (pending is
   * a signed long, 32 bits on a 32-bit dom0). At or over it netback takes no
   * further TX requests from the guest until releases bring the vif
   * under it; pending exceeds it by at most one packet.
   * Checks: max 2147483647 (enforced when encoding).
   */
  'limit-bytes'?: number;
  /**
   * Limit on pending packets, 0 for none, at most 2^31 - 1.
   * Checks: max 2147483647 (enforced when encoding).
   */
  'limit-packets'?: number;
  /** Bytes taken from the guest and not yet released by the stack. */
  'pending-bytes'?: number | bigint;
  /** Packets taken from the guest and not yet released by the stack. */
  'pending-packets'?: number;
  /** Bytes handed to the stack (Ethernet frames as sent by the guest). */
  bytes?: number | bigint;
  /** Packets handed to the stack. */
  packets?: number | bigint;
  /**
   * Packets released by a copy of their data before they could leave
   * the host (local delivery, packet taps, clones, software GSO,
   * forwarding into another netdev).
   */
  'released-early'?: number | bigint;
  /** Sum of the time in flight of released packets. */
  'latency-ns'?: number | bigint;
  /**
   * Time in flight histogram of released packets, hist-buckets
   * entries in bucket order (see hist-buckets).
   */
  hist?: Array<number | bigint>;
  /** Times a queue of the vif stopped at a limit. */
  'throttle-events'?: number | bigint;
  /** Time queues of the vif spent stopped at a limit, summed over queues. */
  'throttled-ns'?: number | bigint;
  /** Priority class (default high). */
  priority?: VifqPriority | number;
  /**
   * Group of the vif, e.g. one per uplink (default 0). A low-priority
   * vif yields to the high-priority vifs of its group.
   */
  group?: number;
  /**
   * Longest time a low-priority vif's request waits for the
   * high-priority vifs of its group before it goes anyway (default 100).
   * Checks: min 1, max 30000 (enforced when encoding).
   */
  'timeout-ms'?: number;
  /** Requests of the vif that went because they waited too long. */
  'lowprio-timeout-sends'?: number | bigint;
}

export interface VifqConfigAttrs {
  /**
   * Interval of the release reports, in milliseconds (default 1000).
   * Checks: min 10, max 30000 (enforced when encoding).
   */
  'report-interval-ms'?: number;
}

export interface VifqReportAttrs {
  /** Time covered by this report, in milliseconds. */
  'interval-ms'?: number;
  /**
   * One per vif active during the interval (every vif after a report
   * was lost). Counters are cumulative: a listener takes differences.
   */
  entry?: VifqReportEntryAttrs[];
}

export interface VifqReportEntryAttrs {
  ifindex?: number;
  domid?: number;
  handle?: number;
  /** Pending bytes at the end of the interval. */
  'pending-bytes'?: number | bigint;
  /** Pending packets at the end of the interval. */
  'pending-packets'?: number;
  /** Bytes released by the stack since the vif was created. */
  bytes?: number | bigint;
  /** Packets released by the stack since the vif was created. */
  packets?: number | bigint;
  /** Sum of the time in flight of the packets released, since the vif was created. */
  'latency-sum-ns'?: number | bigint;
  /** Longest time in flight of a packet released since the previous report. */
  'latency-max-ns'?: number | bigint;
  /**
   * Time in flight histogram of the packets released since the vif was
   * created (see hist-buckets).
   */
  hist?: Array<number | bigint>;
  /** Times a queue of the vif stopped at a limit, since the vif was created. */
  'throttle-events'?: number | bigint;
  /** Time queues of the vif spent stopped at a limit, since the vif was created. */
  'throttled-ns'?: number | bigint;
}

// ---- operations

/** `vif-get` do: request attributes. */
export type VifqVifGetRequest = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle'>;

/** `vif-get` do: reply attributes. */
export type VifqVifGetReply = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle' | 'ifname' | 'limit-bytes' | 'limit-packets' | 'pending-bytes' | 'pending-packets' | 'bytes' | 'packets' | 'released-early' | 'latency-ns' | 'hist' | 'throttle-events' | 'throttled-ns' | 'priority' | 'group' | 'timeout-ms' | 'lowprio-timeout-sends'>;

/** `vif-get` dump: attributes of each object. */
export type VifqVifGetDumpReply = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle' | 'ifname' | 'limit-bytes' | 'limit-packets' | 'pending-bytes' | 'pending-packets' | 'bytes' | 'packets' | 'released-early' | 'latency-ns' | 'hist' | 'throttle-events' | 'throttled-ns' | 'priority' | 'group' | 'timeout-ms' | 'lowprio-timeout-sends'>;

/** `vif-set` do: request attributes. */
export type VifqVifSetRequest = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle' | 'limit-bytes' | 'limit-packets' | 'priority' | 'group' | 'timeout-ms'>;

/** `vif-new` notification (the reply of `vif-get`), multicast group `config`. */
export type VifqVifNewNotification = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle' | 'ifname' | 'limit-bytes' | 'limit-packets' | 'pending-bytes' | 'pending-packets' | 'bytes' | 'packets' | 'released-early' | 'latency-ns' | 'hist' | 'throttle-events' | 'throttled-ns' | 'priority' | 'group' | 'timeout-ms' | 'lowprio-timeout-sends'>;

/** `vif-del` notification (the reply of `vif-get`), multicast group `config`. */
export type VifqVifDelNotification = Pick<VifqVifAttrs, 'ifindex' | 'domid' | 'handle' | 'ifname' | 'limit-bytes' | 'limit-packets' | 'pending-bytes' | 'pending-packets' | 'bytes' | 'packets' | 'released-early' | 'latency-ns' | 'hist' | 'throttle-events' | 'throttled-ns' | 'priority' | 'group' | 'timeout-ms' | 'lowprio-timeout-sends'>;

/** `config-get` do: reply attributes. */
export type VifqConfigGetReply = Pick<VifqConfigAttrs, 'report-interval-ms'>;

/** `config-set` do: request attributes. */
export type VifqConfigSetRequest = Pick<VifqConfigAttrs, 'report-interval-ms'>;

/** `release-report` event, multicast group `reports`. */
export type VifqReleaseReportEvent = Pick<VifqReportAttrs, 'interval-ms' | 'entry'>;

/** Operations that take a `do` request, by name. */
export interface VifqDoOps {
  'vif-get': { request: VifqVifGetRequest; reply: VifqVifGetReply; adminPerm: false };
  'vif-set': { request: VifqVifSetRequest; reply: undefined; adminPerm: true };
  'config-get': { request: Record<string, never>; reply: VifqConfigGetReply; adminPerm: false };
  'config-set': { request: VifqConfigSetRequest; reply: undefined; adminPerm: true };
}

/** Operations that can be dumped, by name. */
export interface VifqDumpOps {
  'vif-get': { request: Record<string, never>; reply: VifqVifGetDumpReply };
}

/** Notifications and events, by operation name (as YnlFamily reports them in `op`). */
export interface VifqNotifications {
  'vif-new': VifqVifNewNotification;
  'vif-del': VifqVifDelNotification;
  'release-report': VifqReleaseReportEvent;
}
export type VifqNotificationName = keyof VifqNotifications;

/** The multicast group each notification arrives on. */
export const VIFQ_NOTIFICATION_GROUPS: { readonly [K in VifqNotificationName]: VifqMcastGroup } = {
  'vif-new': 'config',
  'vif-del': 'config',
  'release-report': 'reports',
};

/** The spec itself, so the codec needs no file at run time (parse with parseYnlSpec). */
export const VIFQ_SPEC_YAML = "# SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)\n\nname: vifq\n\nprotocol: genetlink\n\ndoc: |\n  Guest TX packets of Xen network backend interfaces (xen-netback vifs)\n  while they are in the host stack: per vif pending bytes and packets,\n  counted when netback hands a packet to the stack and uncounted when the\n  stack releases it, limits on them, and counters. Once per interval, a\n  release report sums up what each active vif released. A vif of low\n  priority only sends while no vif of high priority in its group has\n  packets pending, or when a request of it waited longer than its timeout.\n\ndefinitions:\n  -\n    type: const\n    name: domid-max\n    value: 32751\n    doc: Largest domain id of a guest (DOMID_FIRST_RESERVED - 1).\n  -\n    type: const\n    name: hist-buckets\n    value: 24\n    doc: |\n      Number of buckets of the time in flight histogram. Bucket 0 counts\n      packets released after less than 1024 ns, bucket k (k > 0) packets\n      released after [2^(k-1), 2^k) * 1024 ns, the last bucket everything\n      longer.\n\n  -\n    type: enum\n    name: priority\n    doc: Priority class of a vif.\n    entries:\n      -\n        name: high\n        doc: Sends whenever its limits allow (the default).\n      -\n        name: low\n        doc: |\n          Sends only while no high-priority vif of its group has packets\n          pending, or when its oldest waiting request waited longer than\n          its timeout; its limit-packets is its packet cap.\n\nattribute-sets:\n  -\n    name: vif\n    attributes:\n      -\n        name: ifindex\n        type: u32\n        checks:\n          min: 1\n        doc: ifindex of the vif's netdev; selects the vif in requests.\n      -\n        name: domid\n        type: u32\n        checks:\n          max: domid-max\n        doc: Domain id of the guest; with handle, selects the vif.\n      -\n        name: handle\n        type: u32\n        doc: The vif's handle (devid) within its guest.\n      -\n        name: ifname\n        type: string\n        doc: Name of the vif's netdev.\n      -\n        name: limit-bytes\n        type: u32\n        checks:\n          max: s32-max\n        doc: |\n          Limit on pending bytes, 0 for none, at most 2^31 - 1 (pending is\n          a signed long, 32 bits on a 32-bit dom0). At or over it netback takes no\n          further TX requests from the guest until releases bring the vif\n          under it; pending exceeds it by at most one packet.\n      -\n        name: limit-packets\n        type: u32\n        checks:\n          max: s32-max\n        doc: Limit on pending packets, 0 for none, at most 2^31 - 1.\n      -\n        name: pending-bytes\n        type: u64\n        doc: Bytes taken from the guest and not yet released by the stack.\n      -\n        name: pending-packets\n        type: u32\n        doc: Packets taken from the guest and not yet released by the stack.\n      -\n        name: bytes\n        type: u64\n        doc: Bytes handed to the stack (Ethernet frames as sent by the guest).\n      -\n        name: packets\n        type: u64\n        doc: Packets handed to the stack.\n      -\n        name: released-early\n        type: u64\n        doc: |\n          Packets released by a copy of their data before they could leave\n          the host (local delivery, packet taps, clones, software GSO,\n          forwarding into another netdev).\n      -\n        name: latency-ns\n        type: u64\n        doc: Sum of the time in flight of released packets.\n      -\n        name: hist\n        type: u64\n        multi-attr: true\n        doc: |\n          Time in flight histogram of released packets, hist-buckets\n          entries in bucket order (see hist-buckets).\n      -\n        name: throttle-events\n        type: u64\n        doc: Times a queue of the vif stopped at a limit.\n      -\n        name: throttled-ns\n        type: u64\n        doc: Time queues of the vif spent stopped at a limit, summed over queues.\n      -\n        name: pad\n        type: pad\n      -\n        name: priority\n        type: u32\n        enum: priority\n        doc: Priority class (default high).\n      -\n        name: group\n        type: u32\n        doc: |\n          Group of the vif, e.g. one per uplink (default 0). A low-priority\n          vif yields to the high-priority vifs of its group.\n      -\n        name: timeout-ms\n        type: u32\n        checks:\n          min: 1\n          max: 30000\n        doc: |\n          Longest time a low-priority vif's request waits for the\n          high-priority vifs of its group before it goes anyway (default 100).\n      -\n        name: lowprio-timeout-sends\n        type: u64\n        doc: Requests of the vif that went because they waited too long.\n  -\n    name: config\n    attributes:\n      -\n        name: report-interval-ms\n        type: u32\n        checks:\n          min: 10\n          max: 30000\n        doc: Interval of the release reports, in milliseconds (default 1000).\n  -\n    name: report\n    attributes:\n      -\n        name: interval-ms\n        type: u32\n        doc: Time covered by this report, in milliseconds.\n      -\n        name: entry\n        type: nest\n        multi-attr: true\n        nested-attributes: report-entry\n        doc: |\n          One per vif active during the interval (every vif after a report\n          was lost). Counters are cumulative: a listener takes differences.\n  -\n    name: report-entry\n    attributes:\n      -\n        name: ifindex\n        type: u32\n      -\n        name: domid\n        type: u32\n      -\n        name: handle\n        type: u32\n      -\n        name: pending-bytes\n        type: u64\n        doc: Pending bytes at the end of the interval.\n      -\n        name: pending-packets\n        type: u32\n        doc: Pending packets at the end of the interval.\n      -\n        name: bytes\n        type: u64\n        doc: Bytes released by the stack since the vif was created.\n      -\n        name: packets\n        type: u64\n        doc: Packets released by the stack since the vif was created.\n      -\n        name: latency-sum-ns\n        type: u64\n        doc: Sum of the time in flight of the packets released, since the vif was created.\n      -\n        name: latency-max-ns\n        type: u64\n        doc: Longest time in flight of a packet released since the previous report.\n      -\n        name: hist\n        type: u64\n        multi-attr: true\n        doc: |\n          Time in flight histogram of the packets released since the vif was\n          created (see hist-buckets).\n      -\n        name: throttle-events\n        type: u64\n        doc: Times a queue of the vif stopped at a limit, since the vif was created.\n      -\n        name: throttled-ns\n        type: u64\n        doc: Time queues of the vif spent stopped at a limit, since the vif was created.\n      -\n        name: pad\n        type: pad\n\noperations:\n  list:\n    -\n      name: vif-get\n      doc: Get the limits and counters of one vif, or dump all vifs.\n      attribute-set: vif\n      do:\n        request:\n          attributes:\n            - ifindex\n            - domid\n            - handle\n        reply: &vif-all\n          attributes:\n            - ifindex\n            - domid\n            - handle\n            - ifname\n            - limit-bytes\n            - limit-packets\n            - pending-bytes\n            - pending-packets\n            - bytes\n            - packets\n            - released-early\n            - latency-ns\n            - hist\n            - throttle-events\n            - throttled-ns\n            - priority\n            - group\n            - timeout-ms\n            - lowprio-timeout-sends\n      dump:\n        reply: *vif-all\n    -\n      name: vif-set\n      doc: |\n        Set the limits and the priority class of a vif, selected by ifindex\n        or by domid and handle. Attributes left out keep their value.\n      attribute-set: vif\n      flags: [ admin-perm ]\n      do:\n        request:\n          attributes:\n            - ifindex\n            - domid\n            - handle\n            - limit-bytes\n            - limit-packets\n            - priority\n            - group\n            - timeout-ms\n    -\n      name: vif-new\n      doc: A vif appeared.\n      notify: vif-get\n      mcgrp: config\n    -\n      name: vif-del\n      doc: A vif is going away.\n      notify: vif-get\n      mcgrp: config\n    -\n      name: config-get\n      doc: Get the settings of the family.\n      attribute-set: config\n      do:\n        reply:\n          attributes:\n            - report-interval-ms\n    -\n      name: config-set\n      doc: Change the settings of the family.\n      attribute-set: config\n      flags: [ admin-perm ]\n      do:\n        request:\n          attributes:\n            - report-interval-ms\n    -\n      name: release-report\n      doc: |\n        Sent once per interval to the reports group, only while it has\n        listeners: one entry per vif that handed or released packets, was\n        throttled, or had packets pending during the interval. A report is\n        split over several messages only if it exceeds 64 KiB (about 120\n        vifs).\n      attribute-set: report\n      event:\n        attributes:\n          - interval-ms\n          - entry\n      mcgrp: reports\n\nmcast-groups:\n  list:\n    -\n      name: config\n      flags: [ admin-perm ]\n    -\n      name: reports\n      flags: [ admin-perm ]\n";

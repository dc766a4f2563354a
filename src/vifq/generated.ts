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
  /** One per vif active during the interval. */
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
  /** Bytes released by the stack during the interval. */
  bytes?: number | bigint;
  /** Packets released by the stack during the interval. */
  packets?: number | bigint;
  /** Sum of the time in flight of the packets released. */
  'latency-sum-ns'?: number | bigint;
  /** Longest time in flight of a packet released. */
  'latency-max-ns'?: number | bigint;
  /** Time in flight histogram of the packets released (see hist-buckets). */
  hist?: Array<number | bigint>;
  /** Times a queue of the vif stopped at a limit during the interval. */
  'throttle-events'?: number | bigint;
  /** Time queues of the vif spent stopped at a limit during the interval. */
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

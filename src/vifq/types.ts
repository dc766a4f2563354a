/**
 * The vifq family's objects as the typed client hands them out: the generated wire types
 * (generated.ts, from kernel-patch/vifq.yaml) with 64-bit counters as plain numbers.
 * A u64 above 2^53 (9 PB, 104 days of throttled-ns per queue sum) loses precision, which no
 * consumer of these counters can notice; the raw codec keeps bigints for whoever needs them.
 */
import type {
  VifqConfigGetReply, VifqReportEntryAttrs, VifqVifGetReply, VifqVifSetRequest,
} from './generated.js';

/** `number | bigint` -> `number`, arrays of them -> `number[]`, everything else unchanged. */
export type Numeric<T> = {
  [K in keyof T]: T[K] extends number | bigint | undefined
    ? (undefined extends T[K] ? number | undefined : number)
    : T[K] extends Array<number | bigint> | undefined
      ? (undefined extends T[K] ? number[] | undefined : number[])
      : T[K];
};

/** One vif as `vif-get` reports it (every attribute the kernel sent). */
export type VifqVif = Numeric<VifqVifGetReply>;

/** A vif as the kernel always reports it: every attribute of `vif-get`'s reply present. */
export type VifqVifComplete = Required<VifqVif>;

/** Selects a vif: by ifindex, or by domid and handle. */
export type VifSelector = { ifindex: number } | { domid: number; handle: number };

/** What `setVif()` may change; attributes left out keep their value. */
export type VifSettings = Omit<VifqVifSetRequest, 'ifindex' | 'domid' | 'handle'>;

export type VifqConfig = Numeric<VifqConfigGetReply>;

/** One vif's entry of a release report, as the kernel sent it. */
export type VifqReportEntry = Numeric<VifqReportEntryAttrs>;

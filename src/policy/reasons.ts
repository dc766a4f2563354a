/**
 * The reasons attached to limits. A run makes a few per vif, so they keep their
 * numbers and format the sentence only when someone reads `detail` (the CLI, a
 * log line, JSON.stringify): 1000 vifs per report cost no string building.
 */
import type { LimitReason, LimitReasonCode } from './types.js';

const kib = (b: number): string => (b >= 10_240 ? `${(b / 1024).toFixed(0)} KiB` : `${b} B`);
const ms = (ns: number): string => `${(ns / 1e6).toFixed(1)} ms`;

export class Reason implements LimitReason {
  constructor(
    readonly code: LimitReasonCode,
    private readonly p1 = 0,
    private readonly p2 = 0,
    private readonly p3 = 0,
    private readonly p4 = 0,
    private readonly p5 = 0,
    private readonly text: string | null = null,
  ) {}

  get detail(): string {
    const { p1, p2, p3, p4, p5, text } = this;
    switch (this.code) {
      case 'budget-share':
        return `${kib(p1)} of the ${kib(p2)} pool (weight ${p3}${p4 !== 1 ? ` × gain ${p4.toFixed(2)}` : ''} among ${p5} active)`;
      case 'demand':
        return `uses about ${kib(p1)} (not throttled): the rest of its share goes to the others`;
      case 'feedback':
        return `delivered ${p1.toFixed(2)}× its weighted share: gain ${p2.toFixed(2)} -> ${p3.toFixed(2)}`;
      case 'tightened':
        return `share × ${p1.toFixed(2)}: it kept its share full while its peers' packets waited ${ms(p2)} on average (limits allow ${ms(p3)})`;
      case 'floor':
        return `raised to the floor ${kib(p1)} (two full-size frames or 1 ms at line rate, at most 64 KiB)`;
      case 'idle':
        return `idle: the floor ${kib(p1)}; its share comes back after its next report`;
      case 'sla-cap':
        return `lowered to the SLA's pending-bytes ${p1}`;
      case 'low-priority':
        return text === 'yields'
          ? `yields to ${p1} active high-priority vifs of its uplink: the floor ${kib(p2)}`
          : `packet cap ${p1}, timeout ${p2} ms, group ${p3}`;
      case 'no-uplink':
        return text === null ? 'no uplink found for this vif: stock behaviour except the SLA caps' : `uplink ${text} is not known: stock behaviour except the SLA caps`;
      case 'held':
        return `kept ${p1} B: within ${p2 * 100}% of the computed value`;
    }
  }

  toJSON(): LimitReason {
    return { code: this.code, detail: this.detail };
  }
}

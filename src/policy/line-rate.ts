/** Bytes <-> time at line rate, and the per-vif floor. */
import type { PolicyConfig } from './config.js';

/** Bytes the uplink sends in `ns` at `bitsPerSec` (rounded down). */
export function bytesAtRate(ns: number, bitsPerSec: number): number {
  return Math.floor((ns * bitsPerSec) / 8e9);
}

/** Time the uplink needs to send `bytes` at `bitsPerSec`. */
export function nsAtRate(bytes: number, bitsPerSec: number): number {
  return (bytes * 8e9) / bitsPerSec;
}

export function fullFrameBytes(mtu: number | undefined, cfg: PolicyConfig): number {
  return (mtu ?? cfg.defaultMtu) + cfg.frameOverheadBytes;
}

/**
 * The smallest limit a vif gets: time at line rate (1 ms), capped at 64 KiB,
 * never below two full-size frames (below that the vif cannot keep one frame
 * in flight while the next is admitted, and the one-packet overshoot dominates).
 */
export function floorBytes(bitsPerSec: number, mtu: number | undefined, cfg: PolicyConfig): number {
  const frames = cfg.floorFrames * fullFrameBytes(mtu, cfg);
  return Math.max(frames, Math.min(cfg.floorMaxBytes, bytesAtRate(cfg.floorTimeNs, bitsPerSec)));
}

/**
 * Reading a JSON value the daemon sent into typed fields, with one typed error naming the field
 * that is missing or of the wrong type (so a vifq/vifqd version skew says where, not "undefined").
 * Pure.
 */
import { VifqError } from '../errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** vifqd answered with something this vifq does not understand. */
export class ControlShapeError extends VifqError {
  constructor(readonly method: string, readonly field: string, expected: string) {
    super(`vifqd's answer to ${method} has no ${expected} at ${field}`, {
      hint: 'vifq and vifqd must be the same version: reinstall vifq and restart vifqd (systemctl restart vifqd)',
      exitCode: 3,
    });
  }
}

/** A cursor over one answer: each accessor checks the type at `path.key`. */
export class Shape {
  constructor(private readonly method: string, readonly value: Json | undefined, readonly path = '$') {}

  private fail(expected: string): never {
    throw new ControlShapeError(this.method, this.path, expected);
  }

  get(key: string): Shape {
    const o = this.object();
    return new Shape(this.method, o[key], `${this.path}.${key}`);
  }

  object(): JsonObject {
    const v = this.value;
    if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) this.fail('object');
    return v;
  }

  array(): Shape[] {
    const v = this.value;
    if (!Array.isArray(v)) this.fail('array');
    return v.map((x, i) => new Shape(this.method, x, `${this.path}[${i}]`));
  }

  number(): number {
    if (typeof this.value !== 'number') this.fail('number');
    return this.value;
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail('string');
    return this.value;
  }

  /** Absent or null -> null. */
  optional(): Shape | null {
    return this.value === undefined || this.value === null ? null : this;
  }

  numberOrNull(): number | null {
    return this.optional()?.number() ?? null;
  }

  stringOrNull(): string | null {
    return this.optional()?.string() ?? null;
  }
}

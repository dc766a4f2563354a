/** A value with where it came from, so `vifq domain show` can say why it applies. */
export type SlaSource = 'default' | 'host' | 'guest' | 'vif';

export interface Sourced<T> {
  readonly value: T;
  readonly source: SlaSource;
  /** The xenstore node it was read from; null for built-in defaults. */
  readonly path: string | null;
}

export type SourcedFields<V> = { readonly [K in keyof V]: Sourced<V[K]> };
export type PartialSourced<V> = { [K in keyof V]?: Sourced<V[K]> };

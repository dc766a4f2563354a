/**
 * Weighted, work-conserving split of a pool (water-filling): every claimant gets
 * pool × w / Σw, except that one whose share exceeds its cap gets its cap and
 * the rest is split again among the others. Σ allocations ≤ pool.
 */
export interface Claim {
  readonly weight: number;
  /** Most it can use (Infinity: no cap). */
  readonly cap: number;
}

/** Allocations in claim order, whole bytes. */
export function waterFill(pool: number, claims: readonly Claim[]): number[] {
  const out = new Array<number>(claims.length).fill(0);
  if (pool <= 0 || claims.length === 0) return out;
  const ratio = new Float64Array(claims.length);
  const order: number[] = [];
  claims.forEach((c, i) => {
    if (c.weight > 0) {
      ratio[i] = c.cap / c.weight;
      order.push(i);
    }
  });
  // fill the most constrained first: smallest cap per unit of weight
  order.sort((a, b) => (ratio[a] ?? 0) - (ratio[b] ?? 0));
  let weightLeft = 0;
  for (const i of order) weightLeft += claims[i]?.weight ?? 0;
  let left = pool;
  for (const i of order) {
    const c = claims[i];
    if (c === undefined) continue;
    const fair = (left * c.weight) / weightLeft;
    const got = Math.floor(Math.min(fair, c.cap));
    out[i] = got;
    left -= got;
    weightLeft -= c.weight;
  }
  return out;
}

/**
 * Traffic checks shared by the end-to-end tests: random data through netback in
 * both directions, verified by md5 on the far side.
 */
import type { Lab } from './lab.js';

export interface Md5Transfer {
  want: string;
  got: string;
}

export interface Md5Result {
  /** dom0 → guest: dom0's random blob, md5 computed by the guest on receipt */
  toGuest: Md5Transfer;
  /** guest → dom0: the guest's boot-time random blob, md5 computed in dom0 */
  fromGuest: Md5Transfer;
}

/** Sends `mb` MiB of fresh random data to guest n and pulls the guest's blob back. */
export async function md5Traffic(lab: Lab, n: number, mb = 4): Promise<Md5Result> {
  const { ip } = lab.guestInfo(n);
  const toGuest = await lab.dom0Ok(`set -e
    /lab/gexec ${ip} 'rm -f /tmp/rx.md5'
    dd if=/dev/urandom of=/tmp/tx-${n} bs=1M count=${mb} 2>/dev/null
    want=$(md5sum < /tmp/tx-${n} | cut -d' ' -f1)
    timeout 120 nc ${ip} 5001 < /tmp/tx-${n}
    for i in $(seq 100); do got=$(/lab/gexec ${ip} 'cat /tmp/rx.md5 2>/dev/null') && [ -n "$got" ] && break; sleep 0.2; done
    rm -f /tmp/tx-${n}
    echo "$want \${got:-none}"`, { timeoutMs: 180_000 });
  const fromGuest = await lab.dom0Ok(`set -e
    want=$(/lab/gexec ${ip} 'cat /tmp/blob.md5')
    got=$(timeout 120 nc ${ip} 5002 < /dev/null | md5sum | cut -d' ' -f1)
    echo "$want $got"`, { timeoutMs: 180_000 });
  return { toGuest: pair(toGuest), fromGuest: pair(fromGuest) };
}

function pair(line: string): Md5Transfer {
  const [want = '', got = ''] = line.trim().split(/\s+/);
  return { want, got };
}

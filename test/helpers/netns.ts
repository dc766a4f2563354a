/** A throw-away network namespace for host tests; always deleted in teardown. */
import { execFileSync } from 'node:child_process';

let counter = 0;

export interface Netns {
  name: string;
  path: string;
  /** run `ip -n <ns> ...args` */
  ip(...args: string[]): string;
  /** run `tc ...args` inside the namespace */
  tc(...args: string[]): string;
  /** `ip -j -n <ns> link`, parsed */
  links(): Array<{ ifindex: number; ifname: string }>;
  destroy(): void;
}

export function canRunHostTests(): string | false {
  if (process.getuid?.() !== 0) return 'host tests need root (netns, veth)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 `ip` is not installed';
  }
  return false;
}

export function createNetns(tag: string, teardown: (fn: () => void) => void): Netns {
  const name = `vqt-${tag}-${process.pid}-${++counter}`;
  execFileSync('ip', ['netns', 'add', name]);
  const ns: Netns = {
    name,
    path: `/run/netns/${name}`,
    ip: (...args) => execFileSync('ip', ['-n', name, ...args], { encoding: 'utf8' }),
    tc: (...args) => execFileSync('ip', ['netns', 'exec', name, 'tc', ...args], { encoding: 'utf8' }),
    links: () => JSON.parse(execFileSync('ip', ['-j', '-n', name, 'link'], { encoding: 'utf8' })) as Array<{ ifindex: number; ifname: string }>,
    destroy: () => {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    },
  };
  teardown(() => ns.destroy());
  return ns;
}

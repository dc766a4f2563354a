/**
 * Host-side handle on one running Xen lab (Xen + dom0 + PV guests in QEMU/TCG).
 *
 *   const lab = await Lab.boot({ name: 'basic', guests: 3 });
 *   const r = await lab.dom0('xl list');            // { stdout, stderr, code }
 *   const g = await lab.guest(2, 'ip -br a');       // runs in guest domu2
 *   await lab.close();                              // always (t.teardown)
 *
 * The lab is dom0-scripts/lab/run-lab.sh in agent mode: commands travel through
 * a 9p directory (<run>/ctl/q) that dom0's agent polls. Each boot gets its own
 * run directory under build/lab-runs/, so two labs never share files. The QEMU
 * process group is killed on close(), on a boot failure and when this process
 * exits, so no QEMU is ever left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, rmSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { VifqError } from '../../src/errors.js';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const RUN_LAB = join(REPO, 'dom0-scripts/lab/run-lab.sh');

export interface LabOptions {
  /** names the run directory and the log: build/lab-runs/<name>-<time>-<pid> */
  name: string;
  /** guests to create after boot: domu1..domuN at 198.18.0.2.. (default 0) */
  guests?: number;
  /** lab kernel series (default: $LAB_KERNEL or 6.1) */
  kernel?: string;
  /** xen-netback.ko to load instead of the kernel's own */
  netback?: string;
  /** limit for boot + guest creation (default 900 s) */
  bootTimeoutMs?: number;
  /** hard limit for the whole QEMU run (default 3600 s) */
  runTimeoutSec?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** the command is killed in dom0 after this long (exit code 124); default 120 s */
  timeoutMs?: number;
}

export interface Guest {
  n: number;
  name: string;
  domid: number;
  ip: string;
}

/** A lab step failed: names the step and the log file to read. */
export class LabError extends VifqError {
  constructor(step: string, detail: string, logPath: string) {
    super(`lab: ${step}: ${detail}`, { hint: `see ${logPath}` });
  }
}

const live = new Set<Lab>();
process.on('exit', () => {
  for (const lab of live) lab.kill();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const lab of live) lab.kill();
    process.exit(130);
  });
}

export class Lab {
  readonly runDir: string;
  readonly logPath: string;
  readonly guests: Guest[] = [];
  private readonly queue: string;
  private readonly child: ChildProcess;
  private exited = false;
  private exitCode: number | null = null;
  private seq = 0;
  private closing: Promise<void> | undefined;

  private constructor(runDir: string, child: ChildProcess) {
    this.runDir = runDir;
    this.logPath = join(runDir, 'lab.log');
    this.queue = join(runDir, 'ctl', 'q');
    this.child = child;
    child.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
      live.delete(this);
    });
  }

  /** Boots the lab and creates the guests; on any failure the VM is torn down. */
  static async boot(options: LabOptions): Promise<Lab> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const runDir = join(REPO, 'build', 'lab-runs', `${options.name}-${stamp}-${process.pid}`);
    mkdirSync(join(runDir, 'ctl', 'q'), { recursive: true });
    const args = ['--ctl', join(runDir, 'ctl'), '--log', join(runDir, 'lab.log'),
      '--timeout', String(options.runTimeoutSec ?? 3600)];
    if (options.kernel) args.push('--kernel', options.kernel);
    if (options.netback) args.push('--netback', options.netback);
    const out = join(runDir, 'run.out');
    writeFileSync(out, '');
    const child = spawn(RUN_LAB, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => appendFileSync(out, d));
    child.stderr?.on('data', (d: Buffer) => appendFileSync(out, d));
    const lab = new Lab(runDir, child);
    live.add(lab);
    const deadline = Date.now() + (options.bootTimeoutMs ?? 900_000);
    try {
      await lab.waitForMarker('AGENT-READY', deadline);
      const count = options.guests ?? 0;
      if (count > 0) {
        const list = Array.from({ length: count }, (_, i) => i + 1).join(' ');
        const r = await lab.dom0(`/lab/guests.sh create ${list}`, { timeoutMs: Math.max(10_000, deadline - Date.now()) });
        if (r.code !== 0) throw new LabError('creating guests', `guests.sh exited ${r.code}: ${r.stderr.trim()}`, lab.logPath);
        lab.guests.push(...parseGuests(r.stdout));
      }
      return lab;
    } catch (error) {
      await lab.close({ collect: true });
      throw error;
    }
  }

  /** Runs a bash script in dom0 and returns its output and exit status. */
  async dom0(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (this.exited) throw new LabError('dom0 exec', `the lab is not running (run-lab.sh exited ${this.exitCode})`, this.logPath);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const id = `h${process.pid}-${++this.seq}`;
    const base = join(this.queue, id);
    writeFileSync(`${base}.timeout`, String(Math.ceil(timeoutMs / 1000)));
    writeFileSync(`${base}.tmp`, script + '\n');
    renameSync(`${base}.tmp`, `${base}.sh`);
    // dom0's `timeout` kills the command at timeoutMs; the margin covers the agent's poll and 9p
    const deadline = Date.now() + timeoutMs + 20_000;
    while (!existsSync(`${base}.rc`)) {
      if (this.exited) throw new LabError('dom0 exec', `the lab died while running: ${firstLine(script)}`, this.logPath);
      if (Date.now() > deadline) throw new LabError('dom0 exec', `no answer from dom0's agent after ${timeoutMs} ms: ${firstLine(script)}`, this.logPath);
      await sleep(40);
    }
    const result: ExecResult = {
      stdout: readFileSync(`${base}.out`, 'utf8'),
      stderr: readFileSync(`${base}.err`, 'utf8'),
      code: Number(readFileSync(`${base}.rc`, 'utf8').trim()),
    };
    for (const ext of ['run', 'out', 'err', 'rc', 'timeout']) rmSync(`${base}.${ext}`, { force: true });
    return result;
  }

  /** Like dom0() but throws a LabError when the command exits non-zero. */
  async dom0Ok(script: string, options: ExecOptions = {}): Promise<string> {
    const r = await this.dom0(script, options);
    if (r.code !== 0) throw new LabError('dom0 command', `exit ${r.code}: ${firstLine(script)}: ${r.stderr.trim()}`, this.logPath);
    return r.stdout;
  }

  /** Runs a busybox sh script in guest n (over its vif, via dom0's gexec). */
  async guest(n: number, script: string, options: ExecOptions = {}): Promise<ExecResult> {
    const g = this.guestInfo(n);
    const timeoutMs = options.timeoutMs ?? 120_000;
    return this.dom0(`/lab/gexec ${g.ip} <<'__VIFQ_GUEST_EOF__'\n${script}\n__VIFQ_GUEST_EOF__`, { timeoutMs });
  }

  /**
   * Creates guest n again after it was destroyed (same name and address, a new
   * domid) and updates `guests`, so guestInfo(n) has the new domid.
   */
  async createGuest(n: number): Promise<Guest> {
    const r = await this.dom0(`/lab/guests.sh create ${n}`, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new LabError(`creating guest ${n}`, `guests.sh exited ${r.code}: ${r.stderr.trim()}`, this.logPath);
    const g = parseGuests(r.stdout).find((x) => x.n === n);
    if (!g) throw new LabError(`creating guest ${n}`, `guests.sh did not report domu${n}: ${r.stdout.trim()}`, this.logPath);
    const i = this.guests.findIndex((x) => x.n === n);
    if (i >= 0) this.guests[i] = g;
    else this.guests.push(g);
    return g;
  }

  guestInfo(n: number): Guest {
    const g = this.guests.find((x) => x.n === n);
    if (!g) throw new VifqError(`lab: no guest ${n} (have ${this.guests.map((x) => x.n).join(',') || 'none'})`);
    return g;
  }

  /** Copies dom0's dmesg, xl dmesg and the guest consoles next to the serial log. */
  async collectLogs(): Promise<void> {
    if (this.exited) return;
    const dir = join(this.runDir, 'logs');
    mkdirSync(dir, { recursive: true });
    const grab = async (file: string, script: string): Promise<void> => {
      try {
        const r = await this.dom0(script, { timeoutMs: 20_000 });
        writeFileSync(join(dir, file), r.stdout + r.stderr);
      } catch {
        /* best effort: the serial log is still there */
      }
    };
    await grab('dmesg.txt', 'dmesg');
    await grab('xl-dmesg.txt', 'xl dmesg');
    await grab('guest-consoles.txt', 'for f in /var/log/xen/console/*.log; do echo "== $f"; cat "$f"; done');
    await grab('xenstore.txt', 'xenstore-ls -f /local/domain/0/backend');
  }

  /** Powers the lab off (gracefully, then by force); idempotent. */
  close(options: { collect?: boolean } = {}): Promise<void> {
    this.closing ??= this.doClose(options.collect ?? false);
    return this.closing;
  }

  private async doClose(collect: boolean): Promise<void> {
    if (collect) {
      await this.collectLogs();
      process.stderr.write(`lab logs kept in ${this.runDir}\n`);
    }
    if (!this.exited) {
      try {
        writeFileSync(join(this.queue, 'stop'), '');
      } catch {
        /* the ctl dir is gone: kill below */
      }
      const deadline = Date.now() + 30_000;
      while (!this.exited && Date.now() < deadline) await sleep(100);
    }
    this.kill();
    const deadline = Date.now() + 10_000;
    while (!this.exited && Date.now() < deadline) await sleep(50);
    live.delete(this);
  }

  /** Kills run-lab.sh and QEMU (the whole process group) at once. */
  kill(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }

  /** Waits for "@@LAB <marker>" in the serial log; fails fast on RESULT FAIL, a crash or exit. */
  private async waitForMarker(marker: string, deadline: number): Promise<void> {
    for (;;) {
      const log = existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
      if (log.includes(`@@LAB ${marker}`)) return;
      const fail = /@@LAB RESULT FAIL (.*)/.exec(log);
      if (fail) throw new LabError(`boot (waiting for ${marker})`, `dom0 reported: ${fail[1]}`, this.logPath);
      const crash = /(Kernel panic.*|Hardware Dom0 crashed.*|Panic on CPU.*)/.exec(log);
      if (crash) throw new LabError(`boot (waiting for ${marker})`, `crash: ${crash[1]}`, this.logPath);
      if (this.exited) {
        const out = readFileSync(join(this.runDir, 'run.out'), 'utf8').trim().split('\n').slice(-5).join(' | ');
        throw new LabError(`boot (waiting for ${marker})`, `run-lab.sh exited ${this.exitCode}: ${out}`, this.logPath);
      }
      if (Date.now() > deadline) throw new LabError(`boot (waiting for ${marker})`, 'timed out', this.logPath);
      await sleep(200);
    }
  }
}

function parseGuests(stdout: string): Guest[] {
  return stdout.trim().split('\n').filter(Boolean).map((line) => {
    const [name, domid, ip] = line.trim().split(/\s+/);
    const n = Number(/^domu(\d+)$/.exec(name ?? '')?.[1]);
    if (!name || !ip || !Number.isInteger(n) || !Number.isInteger(Number(domid))) {
      throw new VifqError(`lab: cannot parse guests.sh output line '${line}'`);
    }
    return { n, name, domid: Number(domid), ip };
  });
}

function firstLine(script: string): string {
  const line = script.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

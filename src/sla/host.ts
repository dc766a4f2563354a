/**
 * Host settings (everything under /local/domain/0/vifq): report interval,
 * adaptation, what to do on stop, host-wide guest defaults, per-uplink rate and
 * budget. Only nodes that dom0 owns and no other domain may write count.
 */
import { SlaUnknownNodeFinding, SlaValueFinding, type SlaFinding } from './findings.js';
import { readNodeValue } from './read-node.js';
import {
  HOST_BASE, HOST_DEFAULTS, HOST_FIELDS, HOST_KEY_BY_NODE, SLA_FIELDS, SLA_KEY_BY_NODE, UPLINK_DEFAULTS, UPLINK_FIELDS,
  UPLINK_KEY_BY_NODE, isInterfaceName, type FieldCodec, type HostValues, type SlaValues, type UplinkValues,
} from './schema.js';
import type { PartialSourced, Sourced, SourcedFields } from './sourced.js';
import { hostNodeDistrust, type SlaNode } from './trust.js';

export interface HostSettings extends SourcedFields<HostValues> {
  /** Guest defaults set by the host (`default/<name>`), below guest nodes in precedence. */
  readonly guestDefaults: PartialSourced<SlaValues>;
  /** Uplinks the host configured, by interface name. */
  readonly uplinks: ReadonlyMap<string, SourcedFields<UplinkValues>>;
}

export interface HostSettingsResult {
  readonly settings: HostSettings;
  readonly findings: readonly SlaFinding[];
}

const KNOWN = [...HOST_KEY_BY_NODE.keys(), ...[...SLA_KEY_BY_NODE.keys()].map((n) => `default/${n}`), ...[...UPLINK_KEY_BY_NODE.keys()].map((n) => `uplink/<ifname>/${n}`)];

function builtin<T>(value: T): Sourced<T> {
  return { value, source: 'default', path: null };
}

/** The settings of an uplink nobody configured. */
export function defaultUplinkSettings(): SourcedFields<UplinkValues> {
  return { rateBitsPerSec: builtin(UPLINK_DEFAULTS.rateBitsPerSec), budget: builtin(UPLINK_DEFAULTS.budget) };
}

/** The settings of a host with no nodes at all. */
export function defaultHostSettings(): HostSettings {
  return parseHostSettings([]).settings;
}

export function parseHostSettings(nodes: Iterable<SlaNode>): HostSettingsResult {
  const findings: SlaFinding[] = [];
  const host: PartialSourced<HostValues> = {};
  const guestDefaults: PartialSourced<SlaValues> = {};
  const uplinks = new Map<string, PartialSourced<UplinkValues>>();
  const unknown = (node: SlaNode): void => {
    findings.push(new SlaUnknownNodeFinding(node.path, KNOWN.map((k) => `${HOST_BASE}/${k}`)));
  };

  for (const node of nodes) {
    const rel = node.path === HOST_BASE ? '' : node.path.startsWith(`${HOST_BASE}/`) ? node.path.slice(HOST_BASE.length + 1) : null;
    if (rel === null) {
      unknown(node);
      continue;
    }
    const parts = rel === '' ? [] : rel.split('/');
    const [a, b, c] = parts;
    const distrust = hostNodeDistrust(node.perms);
    if (parts.length === 0 || (parts.length === 1 && (a === 'default' || a === 'uplink'))) continue; // directories
    if (parts.length === 1 && a !== undefined) {
      const key = HOST_KEY_BY_NODE.get(a);
      if (key === undefined) unknown(node);
      else setField(host, key, HOST_FIELDS[key], node, distrust, findings);
    } else if (parts.length === 2 && a === 'default' && b !== undefined) {
      const key = SLA_KEY_BY_NODE.get(b);
      if (key === undefined) unknown(node);
      else setField(guestDefaults, key, SLA_FIELDS[key], node, distrust, findings);
    } else if (a === 'uplink' && b !== undefined && (parts.length === 2 || parts.length === 3)) {
      if (!isInterfaceName(b)) {
        findings.push(new SlaValueFinding(node.path, { code: 'bad-syntax', message: `${JSON.stringify(b)} is not an interface name`, hint: 'name the uplink by its interface name (1-15 characters, as `ip link` shows it)' }));
        continue;
      }
      const uplink = uplinks.get(b) ?? {};
      uplinks.set(b, uplink);
      if (c === undefined) continue; // the uplink's directory
      const key = UPLINK_KEY_BY_NODE.get(c);
      if (key === undefined) unknown(node);
      else setField(uplink, key, UPLINK_FIELDS[key], node, distrust, findings);
    } else {
      unknown(node);
    }
  }

  const dflt = defaultUplinkSettings();
  const settings: HostSettings = {
    reportIntervalMs: host.reportIntervalMs ?? builtin(HOST_DEFAULTS.reportIntervalMs),
    adaptation: host.adaptation ?? builtin(HOST_DEFAULTS.adaptation),
    onStop: host.onStop ?? builtin(HOST_DEFAULTS.onStop),
    guestDefaults,
    uplinks: new Map([...uplinks].map(([name, u]) => [name, { rateBitsPerSec: u.rateBitsPerSec ?? dflt.rateBitsPerSec, budget: u.budget ?? dflt.budget }])),
  };
  return { settings, findings };
}

function setField<V, K extends keyof V>(target: PartialSourced<V>, key: K, codec: FieldCodec<V[K]>, node: SlaNode, distrust: string | null, findings: SlaFinding[]): void {
  const value = readNodeValue(node, codec, distrust, findings);
  if (value !== undefined) target[key] = { value, source: 'host', path: node.path };
}

/**
 * The small part of rtnetlink (NETLINK_ROUTE) links the topology needs:
 * RTM_{NEW,DEL,GET}LINK with struct ifinfomsg and a handful of IFLA_*
 * attributes. Pure codec; I/O is in topology.ts.
 */
import { NetlinkDecodeError } from '../netlink/errors.js';
import { decodeCString, parseAttrs, type NlMsg } from '../netlink/wire.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTNLGRP_LINK = 1;
export const AF_UNSPEC = 0;
export const AF_BRIDGE = 7;
export const IFINFOMSG_LEN = 16;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_PERM_ADDRESS = 54;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_SLAVE_KIND = 4;

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const ARPHRD_LOOPBACK = 772;

export interface RtLink {
  ifindex: number;
  name: string;
  /** ARPHRD_* */
  type: number;
  /** IFF_* */
  flags: number;
  /** IFLA_INFO_KIND: bridge, veth, bond, tun, openvswitch, vlan...; undefined for drivers without rtnl_link_ops (netback vifs, most NICs) */
  kind: string | undefined;
  /** IFLA_INFO_SLAVE_KIND: what the master is (bridge, openvswitch, bond) */
  slaveKind: string | undefined;
  /** IFLA_MASTER: ifindex of the bridge/bond/OVS datapath this device is a port of */
  master: number | undefined;
  /** IFLA_LINK: lower device (vlan, macvlan) or veth peer */
  link: number | undefined;
  mtu: number | undefined;
  operstate: number | undefined;
  /** IFLA_ADDRESS as aa:bb:..., when the device has a hardware address */
  address: string | undefined;
  /** IFLA_PERM_ADDRESS: the burnt-in address of a real NIC (virtual devices have none) */
  permAddress: string | undefined;
}

function mac(v: Buffer): string | undefined {
  if (v.length === 0 || v.every((b) => b === 0)) return undefined;
  return [...v].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Payload of an RTM_GETLINK dump request: an all-zero ifinfomsg (valid under strict checking). */
export function encodeGetLinkDump(): Buffer {
  return Buffer.alloc(IFINFOMSG_LEN);
}

/** ifi_family of a link message; AF_BRIDGE messages are bridge-port details, not link changes. */
export function linkMsgFamily(m: NlMsg): number {
  return m.payload.length >= 1 ? m.payload.readUInt8(0) : -1;
}

export function decodeLink(m: NlMsg): RtLink {
  const p = m.payload;
  if (p.length < IFINFOMSG_LEN) throw new NetlinkDecodeError('ifinfomsg', `${p.length} bytes, needs ${IFINFOMSG_LEN}`);
  const link: RtLink = {
    ifindex: p.readInt32LE(4),
    name: '',
    type: p.readUInt16LE(2),
    flags: p.readUInt32LE(8),
    kind: undefined,
    slaveKind: undefined,
    master: undefined,
    link: undefined,
    mtu: undefined,
    operstate: undefined,
    address: undefined,
    permAddress: undefined,
  };
  const u32 = (v: Buffer, what: string): number => {
    if (v.length !== 4) throw new NetlinkDecodeError(`ifla.${what}`, `${v.length} bytes, expected 4`);
    return v.readUInt32LE(0);
  };
  for (const a of parseAttrs(p.subarray(IFINFOMSG_LEN), 'ifla')) {
    switch (a.type) {
      case IFLA_IFNAME: link.name = decodeCString(a.value, 'ifla.ifname'); break;
      case IFLA_MASTER: link.master = u32(a.value, 'master') || undefined; break;
      case IFLA_LINK: link.link = u32(a.value, 'link'); break;
      case IFLA_MTU: link.mtu = u32(a.value, 'mtu'); break;
      case IFLA_ADDRESS: link.address = mac(a.value); break;
      case IFLA_PERM_ADDRESS: link.permAddress = mac(a.value); break;
      case IFLA_OPERSTATE: if (a.value.length >= 1) link.operstate = a.value.readUInt8(0); break;
      case IFLA_LINKINFO:
        for (const li of parseAttrs(a.value, 'ifla.linkinfo')) {
          if (li.type === IFLA_INFO_KIND) link.kind = decodeCString(li.value, 'ifla.linkinfo.kind');
          else if (li.type === IFLA_INFO_SLAVE_KIND) link.slaveKind = decodeCString(li.value, 'ifla.linkinfo.slave-kind');
        }
        break;
      default:
        break;
    }
  }
  return link;
}

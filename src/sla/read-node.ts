/** The common step of every node: trust it, decode it, parse it; or say why not. */
import { SlaValueFinding, SlaUntrustedNodeFinding, type SlaFinding } from './findings.js';
import type { FieldCodec } from './schema.js';
import { decodeText } from './units.js';
import type { SlaNode } from './trust.js';

/** The parsed value, or undefined with the finding pushed to `findings`. */
export function readNodeValue<T>(node: SlaNode, codec: FieldCodec<T>, distrust: string | null, findings: SlaFinding[]): T | undefined {
  if (distrust !== null) {
    findings.push(new SlaUntrustedNodeFinding(node.path, distrust));
    return undefined;
  }
  const text = decodeText(node.value);
  const parsed = text.ok ? codec.parse(text.value) : text;
  if (!parsed.ok) {
    findings.push(new SlaValueFinding(node.path, parsed.problem));
    return undefined;
  }
  return parsed.value;
}

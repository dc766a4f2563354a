/** The `<domid|name>` argument and `--vif` of the `domain` commands. */
import { Args, Flags } from '@oclif/core';

export const domainArg = { domain: Args.string({ description: 'domid, or the domain\'s name (xenstore /local/domain/*/name)', required: true }) };

export const vifFlag = Flags.integer({ description: 'one vif\'s overrides (its handle: 0 for vif<domid>.0) instead of the whole guest', min: 0 });

/**
 * Every `vifq` command by its id: oclif's `explicit` command discovery (package.json
 * `oclif.commands`: `{strategy: "explicit", target: "./dist/cli/main.js", identifier: "COMMANDS"}`;
 * src/cli/main.ts points the target at the copy that runs, the bundle or tsc's).
 * oclif takes the commands from this object instead of globbing dist/commands and importing
 * every file in it at start. A new file under src/commands/ must be added here
 * (test/unit/cli-commands.test.ts checks that the two agree).
 */
import type { Command } from '@oclif/core';
import Daemon from '../commands/daemon.js';
import Doctor from '../commands/doctor.js';
import DomainReset from '../commands/domain/reset.js';
import DomainSet from '../commands/domain/set.js';
import DomainShow from '../commands/domain/show.js';
import Events from '../commands/events.js';
import Limits from '../commands/limits/index.js';
import LimitsSet from '../commands/limits/set.js';
import Status from '../commands/status.js';
import Top from '../commands/top.js';

export const COMMANDS = {
  daemon: Daemon,
  doctor: Doctor,
  'domain:reset': DomainReset,
  'domain:set': DomainSet,
  'domain:show': DomainShow,
  events: Events,
  limits: Limits,
  'limits:set': LimitsSet,
  status: Status,
  top: Top,
} satisfies Record<string, Command.Class>;

/**
 * The layering of DESIGN.md ("Layering"), checked by `npm run check:static` (make test-host):
 *   depcruise --config .dependency-cruiser.cjs src
 * Arrows point from a user to what it uses; these rules forbid the arrows that must not exist.
 */
const IO_BUILTINS = '^(node:)?(fs|fs/promises|net|dgram|child_process|http|https|http2|tls|dns|cluster|worker_threads|readline|inspector)$';

module.exports = {
  forbidden: [
    {
      name: 'io-layers-know-no-upper-layer',
      comment: 'src/netlink, src/xenstore and src/topology are I/O layers: they know nothing of the YNL codec, '
        + 'the vifq client, the commands or the service (DESIGN.md "Layering")',
      severity: 'error',
      from: { path: '^src/(netlink|xenstore|topology)/' },
      to: { path: '^src/(genl/ynl-|vifq/|commands/|service/)' },
    },
    {
      name: 'genl-knows-no-product',
      comment: 'src/genl (generic netlink, YNL codec) is generic: no vifq client, command or service in it',
      severity: 'error',
      from: { path: '^src/genl/' },
      to: { path: '^src/(vifq|commands|service)/' },
    },
    {
      name: 'sla-and-policy-are-pure',
      comment: 'src/sla and src/policy do no I/O: no I/O layer, no service, no command, no I/O module of node',
      severity: 'error',
      from: { path: '^src/(sla|policy)/' },
      to: {
        path: ['^src/(netlink|genl|xenstore|topology|vifq|service|commands|doctor)/', IO_BUILTINS, '^netlink$'],
      },
    },
    {
      name: 'service-knows-no-command',
      comment: 'the service knows no command',
      severity: 'error',
      from: { path: '^src/service/' },
      to: { path: '^src/commands/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

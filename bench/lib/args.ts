/** A numeric command-line option of a benchmark: `--name N`, or `dflt` when absent. */
export function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

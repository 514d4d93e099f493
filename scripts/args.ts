/**
 * Tiny `--name value` argument reader for the scripts (no dependency, no build step).
 *
 * @since 0.1.0
 */

/** Returns the value after `--name`, or `undefined`; `--name=value` works too. */
export const flag = (argv: ReadonlyArray<string>, name: string): string | undefined => {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === `--${name}`) return argv[i + 1]
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3)
  }
  return undefined
}

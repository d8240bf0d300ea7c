/** The UsageError a CLI parser throws for argv; fails the test when it throws nothing or something else. */
import { expect } from 'vitest';
import { UsageError } from '../../src/cli/args.ts';

export function usageErrorOf(parse: () => unknown, argv: readonly string[]): UsageError {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
}

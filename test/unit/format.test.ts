/**
 * One number formatter for page and CLI (protocol/format.ts): the same byte count reads the
 * same in both, rounded, never truncated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatBytes as cliBytes } from '../../src/cli/format.ts';
import { formatBytes as pageBytes, formatGiB, formatSize } from '../../src/ui/format.ts';
import { scaledBytes } from '../../src/protocol/format.ts';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** The binary part of the CLI's "X GiB (Y GB)" as a number and unit. */
function cliBinary(bytes: number): { value: number; unit: string } {
  const [value, unit] = cliBytes(bytes).split(' (')[0]!.split(' ');
  return { value: Number(value), unit: unit! };
}

describe('page and CLI agree on a byte count', () => {
  it('8 GiB less 4 MiB reads 8.00 GiB on both (the page once truncated it to 7.99)', () => {
    const b = 8 * GiB - 4 * MiB;
    expect(cliBytes(b)).toBe('8.00 GiB (8.59 GB)');
    expect(pageBytes(b)).toBe('8 GiB');
    expect(formatGiB(b)).toBe('8.00 GiB');
    expect(formatSize(b)).toBe('8.00 GiB');
  });

  it('for any count from 1 KiB to 1 PiB, the same value and unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 2 ** 50 }), (bytes) => {
        const [value, unit] = pageBytes(bytes).split(' ');
        expect({ value: Number(value), unit }).toEqual(cliBinary(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('from 1 GiB up, the page\'s GiB total is the CLI\'s', () => {
    fc.assert(
      fc.property(fc.integer({ min: GiB, max: 1023 * GiB }), (bytes) => {
        expect(formatSize(bytes)).toBe(cliBytes(bytes).split(' (')[0]);
      }),
      { numRuns: 2000 },
    );
  });

  it('rounds to the last digit shown and moves up a unit when the value rounds to 1024', () => {
    expect(scaledBytes(1.005 * MiB, 1024, 2)).toBe('1.01 MiB');
    expect(scaledBytes(1.004 * MiB, 1024, 2)).toBe('1.00 MiB');
    expect(scaledBytes(1024 * MiB - 1, 1024, 2)).toBe('1.00 GiB');
    expect(scaledBytes(13_476_000_000, 1000, 2)).toBe('13.48 GB');
    expect(pageBytes(1536)).toBe('1.5 KiB');
    expect(pageBytes(512)).toBe('512 B');
    expect(pageBytes(-3 * MiB)).toBe('-3 MiB');
  });
});

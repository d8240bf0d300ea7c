/**
 * Numbers as the page and the CLI print them: one module, so a byte count reads the same in
 * both. Memory is in binary units (GiB = 2^30 B, what drivers and `nvidia-smi` count); decimal
 * GB (datasheets) only beside it in the CLI. Every value is rounded half away from zero to its
 * last shown digit (Intl.NumberFormat), never truncated, and a value that rounds up to the next
 * unit moves to it (1023.999 KiB reads 1.00 MiB).
 */

const GiB = 2 ** 30;
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;
const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'] as const;

const numberFormats = new Map<string, Intl.NumberFormat>();
function numberFormat(minDigits: number, maxDigits: number): Intl.NumberFormat {
  const key = `${minDigits}:${maxDigits}`;
  let f = numberFormats.get(key);
  if (!f) numberFormats.set(key, (f = new Intl.NumberFormat('en', { minimumFractionDigits: minDigits, maximumFractionDigits: maxDigits, useGrouping: false })));
  return f;
}

/**
 * `bytes` in the largest unit of `base` that keeps the rounded value at 1 or more, with
 * `minDigits`–2 fraction digits: "1.5 MiB" (0), "1.50 MiB" (2). Under one unit of the base: "512 B".
 */
export function scaledBytes(bytes: number, base: 1000 | 1024, minDigits: 0 | 2 = 0): string {
  const units = base === 1024 ? BINARY : DECIMAL;
  const abs = Math.abs(bytes);
  if (abs < base) return `${numberFormat(0, 2).format(bytes)} B`;
  let exp = Math.min(Math.floor(Math.log(abs) / Math.log(base)), units.length - 1);
  const fmt = numberFormat(minDigits, 2);
  let text = fmt.format(bytes / base ** exp);
  if (Math.abs(Number(text)) >= base && exp < units.length - 1) text = fmt.format(bytes / base ** ++exp);
  return `${text} ${units[exp]}`;
}

/** "1.5 MiB", "3 KiB", "512 B": the page's sizes. */
export function formatBytes(bytes: number): string {
  return scaledBytes(bytes, 1024);
}

/** "12.34 GiB": the unit every total on the page uses, so lines compare at a glance. */
export function formatGiB(bytes: number): string {
  return `${numberFormat(2, 2).format(bytes / GiB)} GiB`;
}

/** GiB for anything from 1 GiB up (so totals compare at a glance), else the fitting binary unit. */
export function formatSize(bytes: number): string {
  return Math.abs(bytes) >= GiB ? formatGiB(bytes) : formatBytes(bytes);
}

/** "13.48 GiB (14.47 GB)": the CLI's sizes, binary with the datasheets' decimal beside it; "999 B" under 1 kB. */
export function formatBytesBoth(bytes: number): string {
  if (Math.abs(bytes) < 1000) return `${bytes} B`;
  const binary = scaledBytes(bytes, 1024, 2);
  const decimal = scaledBytes(bytes, 1000, 2);
  return binary === decimal ? binary : `${binary} (${decimal})`;
}

const grouped = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 });

/** "1,073,741,824". */
export function formatInteger(n: number): string {
  return grouped.format(n);
}

/** "124.44M" parameters. */
export function formatCount(n: number): string {
  return compact.format(n);
}

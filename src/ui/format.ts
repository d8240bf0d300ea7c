/** Number formatting shared by the components: memory in binary units (GiB = 2^30 B). */
import prettyBytes from 'pretty-bytes';

const GiB = 2 ** 30;

const gib = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const grouped = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 2 });

/** "12.34 GiB": the unit every total on the page uses, so lines compare at a glance. */
export function formatGiB(bytes: number): string {
  return `${gib.format(bytes / GiB)} GiB`;
}

/** "1.5 MiB", "3 KiB": for small terms where GiB would read 0.00. */
export function formatBytes(bytes: number): string {
  return prettyBytes(bytes, { binary: true, maximumFractionDigits: 2 });
}

/** GiB for anything from 1 GiB up (so totals compare at a glance), else the fitting binary unit. */
export function formatSize(bytes: number): string {
  return Math.abs(bytes) >= GiB ? formatGiB(bytes) : formatBytes(bytes);
}

/** "1,073,741,824". */
export function formatInteger(n: number): string {
  return grouped.format(n);
}

/** "124.44M" parameters. */
export function formatCount(n: number): string {
  return compact.format(n);
}

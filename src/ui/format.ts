/**
 * The page's number formatting is the CLI's (protocol/format.ts), so a byte count reads the same
 * in both; components import it from here.
 */
export { formatBytes, formatCount, formatGiB, formatInteger, formatSize } from '../protocol/format.ts';

/** RFC 4180 CSV for the page's exports: the builders live in src/protocol/csv.ts, shared with the CLI's --format csv. */
export { csvCell, toCsv } from '../protocol/csv.ts';

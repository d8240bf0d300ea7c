/** RFC 4180 CSV for the page's exports: one function, so every file quotes and guards alike. */

/**
 * One CSV field: numbers as they are; text quoted when it holds a comma, quote or line break,
 * and prefixed with ' when it starts like a spreadsheet formula (=, +, -, @), so opening the
 * file never runs anything (OWASP "CSV injection").
 */
export function csvCell(v: string | number): string {
  if (typeof v === 'number') return String(v);
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Rows (the header first) as CSV text with CRLF line ends. */
export function toCsv(rows: readonly (readonly (string | number)[])[]): string {
  return `${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

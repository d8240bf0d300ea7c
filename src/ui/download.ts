/**
 * How long a download's object URL outlives the click. The browser reads the Blob after the
 * click handler returns; revoking at once can cancel the download in some browsers
 * (https://github.com/eligrey/FileSaver.js/issues/205), so it is revoked a little later.
 */
const REVOKE_AFTER_MS = 10_000;

/**
 * Saves a Blob as a file through a temporary `<a download>` appended to `parent` (a shadow
 * root works) and removed at once. Nothing leaves the page.
 */
export function downloadBlob(blob: Blob, fileName: string, parent: ParentNode & Node = document.body): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.hidden = true;
  parent.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
}

/** "2026-11-22T20-49-50Z": ISO 8601 in UTC with the colons (not allowed in Windows file names) as dashes, no milliseconds. */
export function fileStamp(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Letters, digits, dot and dash only, so a model name cannot make a path or an odd file name. */
export function fileSafe(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 64) || 'model';
}

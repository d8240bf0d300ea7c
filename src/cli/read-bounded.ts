/**
 * Every file the CLI reads (`--hf-config`, the tiles cache) is read here, because a path is
 * untrusted input: it may name /dev/zero (endless), a FIFO (blocks forever on open or read), a
 * directory, or a multi-gigabyte weights file passed by mistake. The file is opened once,
 * without blocking (O_NONBLOCK: opening a FIFO with no writer would wait forever) and without
 * taking a terminal as the controlling one (O_NOCTTY); that handle is checked to be a regular
 * file of at most `maxBytes`, and at most `maxBytes + 1` bytes are read from the same handle,
 * so a file swapped or grown after the check is caught too, and nothing larger is ever held.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** `Error.name` of a file refused here; `message` is the reason, to follow "cannot read 'path': ". */
export const INPUT_FILE_ERROR = 'InputFileError';

export function inputFileError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { name: INPUT_FILE_ERROR, code });
}

const MiB = 2 ** 20;
const describe = (bytes: number) => (bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} B`);

/** What a non-regular file is, for the message. */
function kindOf(stat: ReturnType<typeof fstatSync>): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a pipe (FIFO)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The reason in a sentence for the open() errors a user can cause; the rest keep Node's text. */
function openReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return err.message;
  }
}

/**
 * The file's text (UTF-8), at most `maxBytes` long. Throws an Error named InputFileError whose
 * `code` is the errno code of a failed open (ENOENT…), or NOT_FILE or TOO_LARGE, and whose
 * message says why in a few words.
 */
export function readBoundedText(path: string, maxBytes: number): string {
  return Buffer.from(readBoundedBytes(path, maxBytes)).toString('utf8');
}

/** The file's bytes, at most `maxBytes` of them; refused as readBoundedText refuses. */
export function readBoundedBytes(path: string, maxBytes: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw inputFileError(openReason(e), e.code ?? 'EIO');
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw inputFileError(`it is ${kindOf(stat)}, not a file`, 'NOT_FILE');
    const tooLarge = (size: string) => inputFileError(`it is ${size}, over the ${describe(maxBytes)} limit`, 'TOO_LARGE');
    if (stat.size > maxBytes) throw tooLarge(describe(stat.size));
    // One byte more than allowed: reading it means the file grew after fstat.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw tooLarge('growing');
    }
    return buf.subarray(0, n);
  } catch (err) {
    if ((err as Error).name === INPUT_FILE_ERROR) throw err;
    const e = err as NodeJS.ErrnoException;
    throw inputFileError(e.code === 'EISDIR' ? 'it is a directory, not a file' : e.message, e.code ?? 'EIO');
  } finally {
    closeSync(fd);
  }
}

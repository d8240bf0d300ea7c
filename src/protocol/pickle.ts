/**
 * Python pickles of plain data, both ways, for PyTorch memory snapshots
 * (`torch.cuda.memory._dump_snapshot()` writes one; pytorch.org/memory_viz reads one).
 *
 * Only what a snapshot holds: None, bool, int, float, str, list, tuple (read as a list) and
 * dict. The writer emits protocol 2 with the opcodes memory_viz's own unpickler knows
 * (torch/utils/viz/MemoryViz.js: PROTO, EMPTY_DICT/LIST, MARK, SETITEMS, APPENDS, BININT*,
 * LONG1, BINFLOAT, SHORT_BINUNICODE/BINUNICODE, NONE, NEWTRUE/NEWFALSE, STOP). The reader takes
 * protocols 2 to 5 as Python writes them (FRAME, MEMOIZE, BINPUT, BINGET …) and refuses every
 * opcode that names or calls Python code (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ,
 * NEWOBJ …) instead of running it; sizes, item counts and nesting are bounded, and dicts are
 * null-prototype objects, so a key such as `__proto__` is stored as data.
 *
 * Opcode reference: CPython Lib/pickletools.py.
 */

export type PickleValue = null | boolean | number | string | PickleValue[] | PickleDict;
/** A Python dict: a null-prototype object (keys are strings; int keys become their decimal text). */
export interface PickleDict {
  [key: string]: PickleValue;
}

/** Bad or unsupported pickle bytes; the message is one sentence naming the byte offset. */
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

const OP = {
  PROTO: 0x80,
  FRAME: 0x95,
  STOP: 0x2e, // '.'
  MARK: 0x28, // '('
  POP: 0x30, // '0'
  POP_MARK: 0x31, // '1'
  DUP: 0x32, // '2'
  NONE: 0x4e, // 'N'
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  BININT: 0x4a, // 'J'
  BININT1: 0x4b, // 'K'
  BININT2: 0x4d, // 'M'
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINFLOAT: 0x47, // 'G'
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58, // 'X'
  BINUNICODE8: 0x8d,
  EMPTY_DICT: 0x7d, // '}'
  EMPTY_LIST: 0x5d, // ']'
  EMPTY_TUPLE: 0x29, // ')'
  DICT: 0x64, // 'd'
  LIST: 0x6c, // 'l'
  TUPLE: 0x74, // 't'
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  APPEND: 0x61, // 'a'
  APPENDS: 0x65, // 'e'
  SETITEM: 0x73, // 's'
  SETITEMS: 0x75, // 'u'
  MEMOIZE: 0x94,
  BINPUT: 0x71, // 'q'
  LONG_BINPUT: 0x72, // 'r'
  BINGET: 0x68, // 'h'
  LONG_BINGET: 0x6a, // 'j'
} as const;

/** Opcodes that import, call or build Python objects: named in the refusal. */
const CODE_OPCODES: Record<number, string> = {
  0x63: 'GLOBAL',
  0x93: 'STACK_GLOBAL',
  0x52: 'REDUCE',
  0x62: 'BUILD',
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
};

// ---------------------------------------------------------------------------------------------
// Writer

/** Values the writer takes: plain JSON-like data whose numbers are finite. */
export type PickleInput = null | boolean | number | string | readonly PickleInput[] | { readonly [key: string]: PickleInput };

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }
  bytes(bs: Uint8Array): void {
    this.ensure(bs.length);
    this.buf.set(bs, this.length);
    this.length += bs.length;
  }
  u32le(n: number): void {
    this.ensure(4);
    new DataView(this.buf.buffer).setUint32(this.length, n, true);
    this.length += 4;
  }
  f64be(x: number): void {
    this.ensure(8);
    new DataView(this.buf.buffer).setFloat64(this.length, x, false);
    this.length += 8;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Items per MARK … APPENDS/SETITEMS batch, as CPython's pickler batches them. */
const BATCH = 1000;

/**
 * `value` as pickle protocol 2 bytes. Integers beyond ±2^53 and non-finite floats are refused
 * (a snapshot has neither); an integer-valued number is written as a Python int, any other as
 * a float.
 */
export function writePickle(value: PickleInput): Uint8Array {
  const out = new ByteSink();
  const utf8 = new TextEncoder();
  out.byte(OP.PROTO);
  out.byte(2);
  const write = (v: PickleInput, depth: number): void => {
    if (depth > MAX_DEPTH) throw new PickleError(`cannot pickle data nested deeper than ${MAX_DEPTH}`);
    if (v === null) return out.byte(OP.NONE);
    if (v === true) return out.byte(OP.NEWTRUE);
    if (v === false) return out.byte(OP.NEWFALSE);
    if (typeof v === 'number') return writeNumber(out, v);
    if (typeof v === 'string') {
      const b = utf8.encode(v);
      if (b.length < 256) {
        out.byte(OP.SHORT_BINUNICODE);
        out.byte(b.length);
      } else {
        out.byte(OP.BINUNICODE);
        out.u32le(b.length);
      }
      return out.bytes(b);
    }
    if (Array.isArray(v)) {
      const list = v as readonly PickleInput[];
      out.byte(OP.EMPTY_LIST);
      for (let i = 0; i < list.length; i += BATCH) {
        out.byte(OP.MARK);
        for (const item of list.slice(i, i + BATCH)) write(item, depth + 1);
        out.byte(OP.APPENDS);
      }
      return;
    }
    const entries = Object.entries(v as { readonly [key: string]: PickleInput });
    out.byte(OP.EMPTY_DICT);
    for (let i = 0; i < entries.length; i += BATCH) {
      out.byte(OP.MARK);
      for (const [k, item] of entries.slice(i, i + BATCH)) {
        write(k, depth + 1);
        write(item, depth + 1);
      }
      out.byte(OP.SETITEMS);
    }
  };
  write(value, 0);
  out.byte(OP.STOP);
  return out.result();
}

function writeNumber(out: ByteSink, v: number): void {
  if (!Number.isFinite(v)) throw new PickleError(`cannot pickle the number ${v}: only finite numbers`);
  if (!Number.isInteger(v) || Object.is(v, -0)) {
    out.byte(OP.BINFLOAT);
    return out.f64be(v);
  }
  if (!Number.isSafeInteger(v)) throw new PickleError(`cannot pickle the integer ${v}: beyond ±2^53 it is not exact`);
  if (v >= 0 && v < 0x100) {
    out.byte(OP.BININT1);
    return out.byte(v);
  }
  if (v >= 0 && v < 0x10000) {
    out.byte(OP.BININT2);
    out.byte(v & 0xff);
    return out.byte(v >> 8);
  }
  if (v >= -0x80000000 && v <= 0x7fffffff) {
    out.byte(OP.BININT);
    return out.u32le(v >>> 0);
  }
  // LONG1: little-endian two's complement, as few bytes as keep the sign.
  const bytes: number[] = [];
  let n = BigInt(v);
  for (;;) {
    const b = Number(n & 0xffn);
    bytes.push(b);
    n >>= 8n;
    if ((n === 0n && b < 0x80) || (n === -1n && b >= 0x80)) break;
  }
  out.byte(OP.LONG1);
  out.byte(bytes.length);
  out.bytes(Uint8Array.from(bytes));
}

// ---------------------------------------------------------------------------------------------
// Reader

export interface PickleLimits {
  /** Largest input, bytes. */
  maxBytes: number;
  /** Most values (containers, strings, numbers) created. */
  maxItems: number;
  /** Deepest nesting of containers. */
  maxDepth: number;
}

const MAX_DEPTH = 64;

export const DEFAULT_PICKLE_LIMITS: PickleLimits = { maxBytes: 256 * 2 ** 20, maxItems: 20_000_000, maxDepth: MAX_DEPTH };

const MARK_OBJ: unique symbol = Symbol('mark');
type StackItem = PickleValue | typeof MARK_OBJ;

const isDict = (v: unknown): v is PickleDict => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Reads a pickle of plain data. Throws PickleError with one sentence for anything else:
 * truncated input, an opcode that would run Python code, an unknown opcode, a value beyond the
 * limits, a malformed stack.
 */
export function readPickle(bytes: Uint8Array, limits: Partial<PickleLimits> = {}): PickleValue {
  const lim = { ...DEFAULT_PICKLE_LIMITS, ...limits };
  if (bytes.length > lim.maxBytes) throw new PickleError(`the file is ${bytes.length} bytes, over the ${lim.maxBytes}-byte limit`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  const depthOf = new WeakMap<object, number>();
  let items = 0;
  let pos = 0;
  let at = 0;

  const fail = (why: string): never => {
    throw new PickleError(`not a readable pickle: ${why} at byte ${at}`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) fail(`the data ends early (truncated file?)`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('a length beyond 2^53');
    return Number(v);
  };
  const count = (): void => {
    if (++items > lim.maxItems) fail(`more than ${lim.maxItems} values`);
  };
  const push = (v: PickleValue): void => {
    count();
    stack.push(v);
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK_OBJ) return fail('an operand is missing');
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK_OBJ) return fail('an operand is missing');
    return v;
  };
  const popToMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK_OBJ);
    if (i < 0) fail('MARK is missing');
    const out = stack.splice(i) as StackItem[];
    out.shift();
    return out as PickleValue[];
  };
  const text = (n: number): string => {
    need(n);
    let s: string;
    try {
      s = utf8.decode(bytes.subarray(pos, pos + n));
    } catch {
      return fail('a string is not valid UTF-8');
    }
    pos += n;
    return s;
  };
  /** Nesting depth of a container, checked when something is put into it. */
  const nest = (container: PickleValue, child: PickleValue): void => {
    if (child === null || typeof child !== 'object') return;
    const d = (depthOf.get(child) ?? 0) + 1;
    if (d > lim.maxDepth) fail(`containers nested deeper than ${lim.maxDepth}`);
    if (d > (depthOf.get(container as object) ?? 0)) depthOf.set(container as object, d);
  };
  const newDict = (): PickleDict => Object.create(null) as PickleDict;
  const keyOf = (k: PickleValue): string => {
    if (typeof k === 'string') return k;
    if (typeof k === 'number' && Number.isInteger(k)) return String(k);
    if (typeof k === 'boolean' || k === null) return String(k);
    return fail('a dict key is not a string or a number');
  };
  const setItems = (d: PickleValue, kv: PickleValue[]): void => {
    if (!isDict(d)) fail('SETITEMS on something that is not a dict');
    if (kv.length % 2 !== 0) fail('a dict item has no value');
    for (let i = 0; i < kv.length; i += 2) {
      nest(d, kv[i + 1]!);
      (d as PickleDict)[keyOf(kv[i]!)] = kv[i + 1]!;
    }
  };
  const append = (l: PickleValue, vs: PickleValue[]): void => {
    if (!Array.isArray(l)) fail('APPEND on something that is not a list');
    for (const v of vs) {
      nest(l, v);
      (l as PickleValue[]).push(v);
    }
  };
  const list = (vs: PickleValue[]): PickleValue[] => {
    const l: PickleValue[] = [];
    append(l, vs);
    return l;
  };
  const signedLE = (n: number): number => {
    need(n);
    if (n === 0) return 0;
    if (n > 8) fail(`an integer of ${n} bytes (beyond 2^53)`);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]!);
    if (bytes[pos + n - 1]! >= 0x80) v -= 1n << BigInt(8 * n);
    pos += n;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail('an integer beyond ±2^53');
    return Number(v);
  };

  if (bytes.length === 0) throw new PickleError('not a readable pickle: the file is empty');
  for (;;) {
    at = pos;
    const op = u8();
    switch (op) {
      case OP.PROTO: {
        const v = u8();
        if (v < 2 || v > 5) fail(`pickle protocol ${v} (2 to 5 are read)`);
        break;
      }
      case OP.FRAME:
        u64();
        break;
      case OP.STOP: {
        const v = pop();
        if (stack.length !== 0) fail('values are left over after STOP');
        return v;
      }
      case OP.MARK:
        stack.push(MARK_OBJ);
        break;
      case OP.POP:
        if (stack.pop() === undefined) fail('POP on an empty stack');
        break;
      case OP.POP_MARK:
        popToMark();
        break;
      case OP.DUP:
        stack.push(top());
        break;
      case OP.NONE:
        push(null);
        break;
      case OP.NEWTRUE:
        push(true);
        break;
      case OP.NEWFALSE:
        push(false);
        break;
      case OP.BININT:
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      case OP.BININT1:
        push(u8());
        break;
      case OP.BININT2:
        need(2);
        push(view.getUint16(pos, true));
        pos += 2;
        break;
      case OP.LONG1:
        push(signedLE(u8()));
        break;
      case OP.LONG4: {
        const n = u32();
        push(signedLE(n));
        break;
      }
      case OP.BINFLOAT:
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case OP.SHORT_BINUNICODE:
        push(text(u8()));
        break;
      case OP.BINUNICODE:
        push(text(u32()));
        break;
      case OP.BINUNICODE8:
        push(text(u64()));
        break;
      case OP.EMPTY_DICT:
        push(newDict());
        break;
      case OP.EMPTY_LIST:
      case OP.EMPTY_TUPLE:
        push([]);
        break;
      case OP.DICT: {
        const d = newDict();
        setItems(d, popToMark());
        push(d);
        break;
      }
      case OP.LIST:
      case OP.TUPLE:
        push(list(popToMark()));
        break;
      case OP.TUPLE1:
        push(list([pop()]));
        break;
      case OP.TUPLE2: {
        const b = pop();
        push(list([pop(), b]));
        break;
      }
      case OP.TUPLE3: {
        const c = pop();
        const b = pop();
        push(list([pop(), b, c]));
        break;
      }
      case OP.APPEND: {
        const v = pop();
        append(top(), [v]);
        break;
      }
      case OP.APPENDS: {
        const vs = popToMark();
        append(top(), vs);
        break;
      }
      case OP.SETITEM: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case OP.SETITEMS: {
        const kv = popToMark();
        setItems(top(), kv);
        break;
      }
      case OP.MEMOIZE:
        memo.set(memo.size, top());
        break;
      case OP.BINPUT:
        memo.set(u8(), top());
        break;
      case OP.LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case OP.BINGET:
      case OP.LONG_BINGET: {
        const i = op === OP.BINGET ? u8() : u32();
        const v = memo.get(i);
        if (v === undefined) fail(`memo entry ${i} was never stored`);
        push(v!);
        break;
      }
      default: {
        const code = CODE_OPCODES[op];
        if (code) fail(`opcode ${code} would load or call Python code, which a memory snapshot never needs; refusing it`);
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} (a memory snapshot holds only dicts, lists, strings and numbers)`);
      }
    }
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PickleError, readPickle, writePickle, type PickleInput } from '../../src/protocol/pickle.ts';
import { NO_PYTHON, hasPython, python, pythonPickles } from '../helpers/python.ts';

/** Plain data as both sides see it: ints within ±2^53, finite floats, strings, lists and dicts. */
const plain: fc.Arbitrary<PickleInput> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -70000, max: 70000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
  ),
})).value as fc.Arbitrary<PickleInput>;

/** JSON with dict keys in a fixed order, so two readers' outputs compare. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );

describe('writePickle / readPickle', () => {
  it('read back what they wrote, for any plain data', () => {
    fc.assert(
      fc.property(plain, (v) => {
        expect(canonical(readPickle(writePickle(v)))).toBe(canonical(v));
      }),
      { numRuns: 200 },
    );
  });

  it('write the opcodes of protocol 2 that memory_viz reads, with the integer widths Python uses', () => {
    expect([...writePickle(255)]).toEqual([0x80, 2, 0x4b, 255, 0x2e]); // BININT1
    expect([...writePickle(65535)]).toEqual([0x80, 2, 0x4d, 0xff, 0xff, 0x2e]); // BININT2
    expect([...writePickle(-1)]).toEqual([0x80, 2, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x2e]); // BININT
    // 2^40 as LONG1: 6 bytes little-endian, as pickle.dumps(2**40, 2); 2^47 needs a seventh for the sign.
    expect([...writePickle(2 ** 40)]).toEqual([0x80, 2, 0x8a, 6, 0, 0, 0, 0, 0, 1, 0x2e]);
    expect([...writePickle(2 ** 47)]).toEqual([0x80, 2, 0x8a, 7, 0, 0, 0, 0, 0, 0x80, 0, 0x2e]);
    expect([...writePickle(0.5)]).toEqual([0x80, 2, 0x47, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0, 0x2e]); // BINFLOAT, big-endian
  });

  it('refuse what a snapshot never holds', () => {
    expect(() => writePickle(Number.NaN)).toThrow(/only finite/);
    expect(() => writePickle(2 ** 60)).toThrow(/2\^53/);
  });

  it.skipIf(!hasPython)('are read by Python as the same data, and read what Python writes at protocols 2 to 5', () => {
    const samples = fc.sample(plain, { numRuns: 40, seed: 7 });
    const doc = { samples, big: [2 ** 31, -(2 ** 31) - 1, 2 ** 52 + 1, -(2 ** 53) + 1, 0x7f00_0000_0000], text: 'ünïcødé ✓ 𝄞', nested: [[[{ a: [1, 2.25] }]]] };
    const fromTs = writePickle(doc);
    // Python loads our bytes; its JSON of them equals ours.
    const py = python('import pickle,sys,json; print(json.dumps(pickle.loads(sys.stdin.buffer.read()), sort_keys=True))', fromTs);
    expect(canonical(JSON.parse(py))).toBe(canonical(doc));
    // Python re-pickles the same data at each protocol; we read each to the same value.
    const protocols = [2, 3, 4, 5];
    const back = pythonPickles(protocols.map((protocol) => ({ expr: `pickle.loads(bytes.fromhex('${Buffer.from(fromTs).toString('hex')}'))`, protocol })));
    back.forEach((b, i) => expect(canonical(readPickle(b)), `protocol ${protocols[i]}`).toBe(canonical(doc)));
  });
  // Said once in the output when the cross-checks above cannot run.
  if (!hasPython) it.skip(NO_PYTHON, () => {});

  it.skipIf(!hasPython)('read tuples, shared (memoized) objects and int keys as Python writes them', () => {
    const [v4, v2] = pythonPickles([2, 4].map((protocol) => ({ expr: '(lambda s: {"t": (1, 2), "t3": (1, 2, 3), "t0": (), "t1": ("x",), "a": s, "b": s, 5: None})([1, 2])', protocol })));
    expect(canonical(readPickle(v2!))).toBe(canonical(readPickle(v4!)));
    const v = readPickle(v4!);
    expect(canonical(v)).toBe(canonical({ t: [1, 2], t3: [1, 2, 3], t0: [], t1: ['x'], a: [1, 2], b: [1, 2], 5: null }));
  });
});

describe('readPickle refuses, with one line', () => {
  const refuse = (bytes: number[] | Uint8Array, re: RegExp) => {
    let err: unknown;
    try {
      readPickle(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PickleError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  };

  it.skipIf(!hasPython)('an object whose loading would run Python code (GLOBAL / STACK_GLOBAL, REDUCE)', () => {
    // os.system("echo pwned") as pickle writes it: a reduce of a global.
    const evil = 'type("R", (), {"__reduce__": lambda self: (__import__("os").system, ("echo pwned",))})()';
    const [p2, p4, ordered] = pythonPickles([
      { expr: evil, protocol: 2 },
      { expr: evil, protocol: 4 },
      { expr: '__import__("collections").OrderedDict(a=1)', protocol: 2 },
    ]);
    refuse(p2!, /GLOBAL would load or call Python code/);
    refuse(p4!, /STACK_GLOBAL would load or call Python code/);
    refuse(ordered!, /GLOBAL/);
  });

  it('the code opcodes by name, and unknown opcodes by number', () => {
    refuse([0x80, 2, 0x52], /REDUCE/);
    refuse([0x80, 2, 0x62], /BUILD/);
    refuse([0x80, 2, 0x69], /INST/);
    refuse([0x80, 2, 0x6f], /OBJ/);
    refuse([0x80, 2, 0x81], /NEWOBJ/);
    refuse([0x80, 2, 0xff], /unsupported opcode 0xff/);
    refuse([0x80, 9], /protocol 9/);
  });

  it('truncated input, at every cut of a valid pickle', () => {
    const whole = writePickle({ segments: [{ address: 0x7f00_0000_0000, blocks: [{ size: 512, state: 'active_allocated' }] }], device_traces: [[]] });
    for (let n = 0; n < whole.length; n++) {
      expect(() => readPickle(whole.subarray(0, n)), `cut at ${n}`).toThrow(PickleError);
    }
  });

  it('sizes beyond the data or the limits', () => {
    refuse([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f], /ends early/); // BINUNICODE of 2 GiB in 7 bytes
    refuse([0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x7f], /beyond 2\^53/); // BINUNICODE8
    refuse([0x80, 2, 0x8b, 0, 0, 0, 1], /ends early|bytes/); // LONG4 of 16 MiB
    refuse([0x80, 2, 0x8a, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x2e], /9 bytes/);
    expect(() => readPickle(new Uint8Array(64), { maxBytes: 32 })).toThrow(/over the 32-byte limit/);
    const many = writePickle(Array.from({ length: 100 }, (_, i) => i));
    expect(() => readPickle(many, { maxItems: 50 })).toThrow(/more than 50 values/);
    let deep: PickleInput = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => readPickle(writePickle(deep), { maxDepth: 20 })).toThrow(/deeper than 20/);
  });

  it('a malformed stack', () => {
    refuse([0x80, 2, 0x2e], /operand is missing/);
    refuse([0x80, 2, 0x4b, 1, 0x4b, 2, 0x2e], /left over/);
    refuse([0x80, 2, 0x65], /MARK is missing/);
    refuse([0x80, 2, 0x68, 3], /memo entry 3/);
    refuse([], /empty/);
  });

  it('keeps a __proto__ key as data, polluting nothing', () => {
    const bytes = writePickle(JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as PickleInput);
    const v = readPickle(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBeNull();
    expect(Object.keys(v).sort()).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('any bytes: a value or a PickleError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        const bytes = Uint8Array.from([0x80, 2, ...tail]);
        try {
          readPickle(bytes, { maxItems: 10_000 });
        } catch (e) {
          expect(e).toBeInstanceOf(PickleError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

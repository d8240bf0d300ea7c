// Storage formats shared by every kernel: src/engine/kernels/storage.ts puts this file in
// front of a kernel's own WGSL (the one include of the engine), and the CPU twins of these
// functions live there too, so uploads, tests and kernels round the same way.
//
// Every tensor binding is an array<u32>; its format is a kernel's override constant:
//   f32  (0): element i is word i, the f32 bit pattern.
//   f16  (1): element i is in word i >> 1, even i in bits 0..15, odd i in bits 16..31.
//   bf16 (2): packed like f16; the high 16 bits of the f32 pattern.
// Values are computed in f32: no `shader-f16` needed (SwiftShader and NVIDIA Vulkan lack it).
//
// f16 is encoded by hand rather than with pack2x16float: WGSL leaves that builtin's rounding
// to the implementation and its result indeterminate outside the f16 range
// (https://www.w3.org/TR/WGSL/#pack2x16float-builtin), while here every device rounds to
// nearest-even and overflows to ±inf, as PyTorch's .half() does. Decoding is by hand too, so
// ±inf and NaN survive a round trip (WGSL may assume no infinities in float maths).

const STORAGE_F32: u32 = 0u;
const STORAGE_F16: u32 = 1u;
const STORAGE_BF16: u32 = 2u;

// Index of the u32 word holding element i.
fn storageWord(i: u32, kind: u32) -> u32 {
  if (kind == STORAGE_F32) {
    return i;
  }
  return i >> 1u;
}

// f32 bits: exponent all ones means ±inf or NaN. Bit tests, not x != x, which a compiler may fold.
fn isFiniteBits(bits: u32) -> bool {
  return (bits & 0x7f800000u) != 0x7f800000u;
}

fn f16BitsToF32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let exponent = (h >> 10u) & 0x1fu;
  let mantissa = h & 0x3ffu;
  if (exponent == 0u) {
    // Zero or subnormal: mantissa × 2^-24, exact in f32.
    let v = f32(mantissa) * 5.9604644775390625e-8;
    return select(v, -v, sign != 0u);
  }
  if (exponent == 31u) {
    return bitcast<f32>(sign | 0x7f800000u | (mantissa << 13u));
  }
  return bitcast<f32>(sign | ((exponent + 112u) << 23u) | (mantissa << 13u));
}

// Round to nearest, ties to even; overflow gives ±inf, NaN gives a quiet NaN.
fn f32ToF16Bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let exponent = (bits >> 23u) & 0xffu;
  let mantissa = bits & 0x7fffffu;
  if (exponent == 255u) {
    return sign | 0x7c00u | select(0u, 0x200u, mantissa != 0u);
  }
  // f16 biased exponent = exponent - 127 + 15, kept signed.
  let e = i32(exponent) - 112;
  if (e >= 31) {
    return sign | 0x7c00u;
  }
  if (e <= 0) {
    // Below 2^-25 everything rounds to zero; otherwise a subnormal (or the smallest normal after rounding).
    if (e < -10) {
      return sign;
    }
    let m = mantissa | 0x800000u;
    let shift = u32(14 - e);
    var h = m >> shift;
    let rest = m & ((1u << shift) - 1u);
    let halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (h & 1u) == 1u)) {
      h += 1u;
    }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (mantissa >> 13u);
  let rest = mantissa & 0x1fffu;
  // A carry out of the mantissa bumps the exponent, up to inf: still the right rounding.
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) {
    h += 1u;
  }
  return sign | h;
}

// The high half of the f32 pattern, rounded to nearest-even (as PyTorch's bfloat16 does);
// NaN stays a quiet NaN instead of rounding into inf.
fn f32ToBf16Bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  if (!isFiniteBits(bits) && (bits & 0x7fffffu) != 0u) {
    return ((bits >> 16u) & 0x8000u) | 0x7fc0u;
  }
  return (bits + 0x7fffu + ((bits >> 16u) & 1u)) >> 16u;
}

// Element i, given the word storageWord(i, kind) holds.
fn decodeElement(word: u32, i: u32, kind: u32) -> f32 {
  if (kind == STORAGE_F32) {
    return bitcast<f32>(word);
  }
  let half = select(word & 0xffffu, word >> 16u, (i & 1u) == 1u);
  if (kind == STORAGE_F16) {
    return f16BitsToF32(half);
  }
  return bitcast<f32>(half << 16u);
}

fn encodeHalf(x: f32, kind: u32) -> u32 {
  if (kind == STORAGE_F16) {
    return f32ToF16Bits(x);
  }
  return f32ToBf16Bits(x);
}

// One whole packed word: elements 2w (low half) and 2w + 1 (high half).
fn encodePair(lo: f32, hi: f32, kind: u32) -> u32 {
  return encodeHalf(lo, kind) | (encodeHalf(hi, kind) << 16u);
}

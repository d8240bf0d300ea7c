/**
 * Plain CPU references of the CNN kernels in f64, NCHW, written from the definitions (the
 * loops PyTorch's docs give), and a central finite difference for checking their backward.
 */
export interface ConvRef {
  N: number;
  cin: number;
  H: number;
  W: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

export const outSide = (side: number, k: number, stride: number, pad: number) => Math.floor((side + 2 * pad - k) / stride) + 1;

/** y and, per output, Σ|terms| (the scale of its f32 rounding error). */
export function convForwardRef(g: ConvRef, x: ArrayLike<number>, w: ArrayLike<number>, b?: ArrayLike<number>): { y: Float64Array; abs: Float64Array } {
  const OH = outSide(g.H, g.k, g.stride, g.pad);
  const OW = outSide(g.W, g.k, g.stride, g.pad);
  const y = new Float64Array(g.N * g.cout * OH * OW);
  const abs = new Float64Array(y.length);
  for (let n = 0; n < g.N; n++)
    for (let co = 0; co < g.cout; co++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[co]! : 0;
          let a = Math.abs(s);
          for (let ci = 0; ci < g.cin; ci++)
            for (let kh = 0; kh < g.k; kh++)
              for (let kw = 0; kw < g.k; kw++) {
                const ih = oh * g.stride - g.pad + kh;
                const iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const t = x[((n * g.cin + ci) * g.H + ih) * g.W + iw]! * w[((co * g.cin + ci) * g.k + kh) * g.k + kw]!;
                s += t;
                a += Math.abs(t);
              }
          const o = ((n * g.cout + co) * OH + oh) * OW + ow;
          y[o] = s;
          abs[o] = a;
        }
  return { y, abs };
}

/** dx, dw, db of Σ y·dy, with Σ|terms| of each. */
export function convBackwardRef(g: ConvRef, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>) {
  const OH = outSide(g.H, g.k, g.stride, g.pad);
  const OW = outSide(g.W, g.k, g.stride, g.pad);
  const dx = new Float64Array(g.N * g.cin * g.H * g.W);
  const dxAbs = new Float64Array(dx.length);
  const dw = new Float64Array(g.cout * g.cin * g.k * g.k);
  const dwAbs = new Float64Array(dw.length);
  const db = new Float64Array(g.cout);
  const dbAbs = new Float64Array(g.cout);
  for (let n = 0; n < g.N; n++)
    for (let co = 0; co < g.cout; co++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const d = dy[((n * g.cout + co) * OH + oh) * OW + ow]!;
          db[co] += d;
          dbAbs[co] += Math.abs(d);
          for (let ci = 0; ci < g.cin; ci++)
            for (let kh = 0; kh < g.k; kh++)
              for (let kw = 0; kw < g.k; kw++) {
                const ih = oh * g.stride - g.pad + kh;
                const iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const xi = ((n * g.cin + ci) * g.H + ih) * g.W + iw;
                const wi = ((co * g.cin + ci) * g.k + kh) * g.k + kw;
                dx[xi] += d * w[wi]!;
                dxAbs[xi] += Math.abs(d * w[wi]!);
                dw[wi] += d * x[xi]!;
                dwAbs[wi] += Math.abs(d * x[xi]!);
              }
        }
  return { dx, dxAbs, dw, dwAbs, db, dbAbs };
}

export interface BnRef {
  N: number;
  C: number;
  HW: number;
}

/** Training-mode BatchNorm2d (ε 1e-5), optionally relu(bn(x) + res); mean, rstd and the unbiased variance per channel. */
export function bnForwardRef(s: BnRef, x: ArrayLike<number>, affine: ArrayLike<number>, relu: boolean, res?: ArrayLike<number>) {
  const M = s.N * s.HW;
  const mean = new Float64Array(s.C);
  const rstd = new Float64Array(s.C);
  const unbiased = new Float64Array(s.C);
  const y = new Float64Array(s.N * s.C * s.HW);
  const at = (n: number, c: number, i: number) => (n * s.C + c) * s.HW + i;
  for (let c = 0; c < s.C; c++) {
    let sum = 0;
    for (let n = 0; n < s.N; n++) for (let i = 0; i < s.HW; i++) sum += x[at(n, c, i)]!;
    const m = sum / M;
    let q = 0;
    for (let n = 0; n < s.N; n++) for (let i = 0; i < s.HW; i++) q += (x[at(n, c, i)]! - m) ** 2;
    mean[c] = m;
    rstd[c] = 1 / Math.sqrt(q / M + 1e-5);
    unbiased[c] = M > 1 ? q / (M - 1) : q;
    for (let n = 0; n < s.N; n++)
      for (let i = 0; i < s.HW; i++) {
        const j = at(n, c, i);
        let v = affine[c]! * (x[j]! - m) * rstd[c]! + affine[s.C + c]!;
        if (res) v += res[j]!;
        y[j] = relu ? Math.max(v, 0) : v;
      }
  }
  return { y, mean, rstd, unbiased };
}

/** dx, dγ|dβ (2C) and dres of Σ y·dy. */
export function bnBackwardRef(s: BnRef, x: ArrayLike<number>, affine: ArrayLike<number>, dy: ArrayLike<number>, relu: boolean, res?: ArrayLike<number>) {
  const { y, mean, rstd } = bnForwardRef(s, x, affine, relu, res);
  const M = s.N * s.HW;
  const dz = Float64Array.from(dy, (d, j) => (relu && !(y[j]! > 0) ? 0 : d));
  const daffine = new Float64Array(2 * s.C);
  const dx = new Float64Array(y.length);
  const at = (n: number, c: number, i: number) => (n * s.C + c) * s.HW + i;
  for (let c = 0; c < s.C; c++) {
    let a = 0;
    let b = 0;
    for (let n = 0; n < s.N; n++)
      for (let i = 0; i < s.HW; i++) {
        const j = at(n, c, i);
        a += dz[j]! * (x[j]! - mean[c]!) * rstd[c]!;
        b += dz[j]!;
      }
    daffine[c] = a;
    daffine[s.C + c] = b;
    for (let n = 0; n < s.N; n++)
      for (let i = 0; i < s.HW; i++) {
        const j = at(n, c, i);
        const xh = (x[j]! - mean[c]!) * rstd[c]!;
        dx[j] = affine[c]! * rstd[c]! * (dz[j]! - b / M - (xh * a) / M);
      }
  }
  return { dx, daffine, dres: dz };
}

export function maxPoolRef(N: number, C: number, H: number, W: number, x: ArrayLike<number>) {
  const OH = Math.floor(H / 2);
  const OW = Math.floor(W / 2);
  const y = new Float64Array(N * C * OH * OW);
  const arg = new Int32Array(y.length);
  for (let p = 0; p < N * C; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity;
        let bi = -1;
        for (let kh = 0; kh < 2; kh++)
          for (let kw = 0; kw < 2; kw++) {
            const i = (p * H + 2 * oh + kh) * W + 2 * ow + kw;
            if (x[i]! > best) {
              best = x[i]!;
              bi = i;
            }
          }
        y[(p * OH + oh) * OW + ow] = best;
        arg[(p * OH + oh) * OW + ow] = bi;
      }
  return { y, arg };
}

export function maxPoolBackwardRef(N: number, C: number, H: number, W: number, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const { arg } = maxPoolRef(N, C, H, W, x);
  const dx = new Float64Array(N * C * H * W);
  arg.forEach((i, o) => (dx[i] += dy[o]!));
  return dx;
}

export function avgPoolRef(N: number, C: number, HW: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(N * C);
  for (let p = 0; p < N * C; p++) {
    let s = 0;
    for (let i = 0; i < HW; i++) s += x[p * HW + i]!;
    y[p] = s / HW;
  }
  return y;
}

/** d(Σ f(v)·r)/dv by central differences of step h, for every index listed (f64). */
export function finiteDifferences(f: (v: Float64Array) => Float64Array, v: ArrayLike<number>, r: ArrayLike<number>, indices: number[], h = 1e-6): Map<number, number> {
  const out = new Map<number, number>();
  const dot = (y: Float64Array) => y.reduce((a, yi, i) => a + yi * r[i]!, 0);
  for (const i of indices) {
    const p = Float64Array.from(v);
    const m = Float64Array.from(v);
    p[i] += h;
    m[i] -= h;
    out.set(i, (dot(f(p)) - dot(f(m))) / (2 * h));
  }
  return out;
}

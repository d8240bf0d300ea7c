// Attention family: causal multi-head self-attention of a GPT-style decoder, forward and
// backward, eager and fused. Driven by src/engine/kernels/attention.ts; storage helpers from
// storage.wgsl; rowMax2 and rowSum (the whole workgroup's max and sum) from rowreduce-*.wgsl,
// on subgroup operations where the device has them, which attention.ts puts in front.
//
// Layouts (row = b·SEQ + i, HIDDEN = HEADS·HEAD_DIM):
//   qkv   rows × 3·HIDDEN: columns [0, H) q, [H, 2H) k, [2H, 3H) v; head j uses columns
//         j·HEAD_DIM … (j + 1)·HEAD_DIM − 1 of each part.
//   out   rows × HIDDEN in the same head layout; dOut likewise, f32.
//   probs BATCH × HEADS × SEQ × SEQ, query-major; 0 above the diagonal (keys after the query).
//   lse   BATCH × HEADS × SEQ f32: max + log Σ exp of each query row's scaled scores.
//   dQkv  f32, the layout of qkv.
// A "slot" bh = b·HEADS + head names one head of one sequence.
// Grouped-query attention (Ainslie et al. 2023): KV_HEADS ≤ HEADS key/value heads, query head
// `head` reading kv head head / GROUP (GROUP = HEADS / KV_HEADS), as Llama's repeat_kv does
// without repeating anything: qkv rows are then HIDDEN + 2·KV_HIDDEN wide, [q | k | v] with
// k and v KV_HEADS heads each. KV_HEADS = HEADS is multi-head attention and the layout above.
//
// Entry points, one invocation or workgroup per thing it owns, so nothing is written twice
// and no float atomics are needed:
//   eager_probs    one workgroup per PAIR of flattened query rows: a pair starts at an even
//                  element (2m·SEQ), so packed words never straddle two workgroups.
//   eager_out      one invocation per output word (two elements, as in matmul.wgsl): P·V from
//                  the stored, rounded probs, as an eager framework multiplies them.
//   fused_forward  one workgroup per TILE query rows of a slot: FlashAttention's online softmax
//                  over TILE-key tiles in workgroup memory; writes out and lse only.
//   backward_q     one workgroup per query row: D = rowsum(dP ⊙ P) (eager) or rowsum(dO ⊙ O)
//                  (fused), then dQ. D is parked in dQkv's dV slot of that row and kv head,
//                  lane head mod GROUP (so GROUP ≤ HEAD_DIM), which backward_v overwrites last.
//   backward_k     one workgroup per key row of a kv head: dK summed over the GROUP query
//                  heads reading it, from the parked D of every later query.
//   backward_v     one workgroup per key row of a kv head: dV likewise (overwrites the parked D).
// The eager backward reads P from probs; the fused one recomputes it as exp(score − lse).
// Workgroup-wide reductions (eager_probs' row max and sum, backward_q's D) are rowMax2 and
// rowSum; the fused tile's per-row statistics (TILE rows of TILE keys in one workgroup) and the
// backward's per-d accumulations stay serial loops in a fixed order, one lane per row or d.

override BATCH: u32;
override SEQ: u32;
override HEADS: u32;
override HEAD_DIM: u32;
// 1/√HEAD_DIM, from the TS side (inverseSqrt's precision is the implementation's).
override SCALE: f32;
override QKV_KIND: u32 = 0u;
override PROBS_KIND: u32 = 0u;
override OUT_KIND: u32 = 0u;
// Backward only: P and D from lse and out (fused) instead of from probs (eager).
override FUSED: bool = false;
override WG: u32 = 64u;
// fused_forward: query rows and keys per tile; the TS side sizes it to the workgroup memory.
override TILE: u32 = 16u;
override HIDDEN: u32 = HEADS * HEAD_DIM;
// Key/value heads; divides HEADS, HEADS / KV_HEADS ≤ HEAD_DIM (the TS side checks).
override KV_HEADS: u32 = HEADS;
override GROUP: u32 = HEADS / KV_HEADS;
override KV_HIDDEN: u32 = KV_HEADS * HEAD_DIM;
override QKV_WIDTH: u32 = HIDDEN + 2u * KV_HIDDEN;
override TILE_ELEMS: u32 = TILE * HEAD_DIM;
override TILE_SQUARE: u32 = TILE * TILE;

@group(0) @binding(0) var<storage, read> qkv: array<u32>;
// eager_probs writes probs; the other entry points read it through probsIn.
@group(0) @binding(1) var<storage, read_write> probs: array<u32>;
@group(0) @binding(2) var<storage, read> probsIn: array<u32>;
// eager_out and fused_forward write out; the fused backward reads it through outIn.
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<storage, read> outIn: array<u32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
@group(0) @binding(6) var<storage, read> lseIn: array<f32>;
@group(0) @binding(7) var<storage, read> dOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> dQkv: array<f32>;

// A finite "minus infinity" for masked scores and empty maxima: exp(NEG − x) is 0 for any
// real score x and exp(NEG − NEG) is 1, with no inf arithmetic (WGSL may assume none).
const NEG: f32 = -3.0e38;

fn groupIndex(wid: vec3u, groups: vec3u) -> u32 {
  return wid.y * groups.x + wid.x;
}

// Element index in qkv (and dQkv) of part (0 q, 1 k, 2 v), slot bh, position i, lane d.
fn qkvIndex(part: u32, bh: u32, i: u32, d: u32) -> u32 {
  let b = bh / HEADS;
  let head = bh % HEADS;
  if (part == 0u) {
    return (b * SEQ + i) * QKV_WIDTH + head * HEAD_DIM + d;
  }
  return (b * SEQ + i) * QKV_WIDTH + HIDDEN + (part - 1u) * KV_HIDDEN + (head / GROUP) * HEAD_DIM + d;
}

// Element index in out (and dOut).
fn headIndex(bh: u32, i: u32, d: u32) -> u32 {
  let b = bh / HEADS;
  let head = bh % HEADS;
  return (b * SEQ + i) * HIDDEN + head * HEAD_DIM + d;
}

fn loadQkv(part: u32, bh: u32, i: u32, d: u32) -> f32 {
  let idx = qkvIndex(part, bh, i, d);
  return decodeElement(qkv[storageWord(idx, QKV_KIND)], idx, QKV_KIND);
}

fn loadProbs(bh: u32, i: u32, j: u32) -> f32 {
  let idx = (bh * SEQ + i) * SEQ + j;
  return decodeElement(probsIn[storageWord(idx, PROBS_KIND)], idx, PROBS_KIND);
}

fn loadOut(bh: u32, i: u32, d: u32) -> f32 {
  let idx = headIndex(bh, i, d);
  return decodeElement(outIn[storageWord(idx, OUT_KIND)], idx, OUT_KIND);
}

// Scaled score of query i and key j in slot bh.
fn score(bh: u32, i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) {
    s += loadQkv(0u, bh, i, d) * loadQkv(1u, bh, j, d);
  }
  return s * SCALE;
}

// P[i, j] for j ≤ i: stored (eager) or recomputed from the saved logsumexp (fused).
fn prob(bh: u32, i: u32, j: u32) -> f32 {
  if (FUSED) {
    return exp(score(bh, i, j) - lseIn[bh * SEQ + i]);
  }
  return loadProbs(bh, i, j);
}

// dP[i, j] = dO_i · V_j.
fn dProb(bh: u32, i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) {
    s += dOut[headIndex(bh, i, d)] * loadQkv(2u, bh, j, d);
  }
  return s;
}

// ---- eager forward ------------------------------------------------------------------------

// (max, Σ exp(score − max)) over the keys lid, lid + WG, … ≤ i of flattened query row `row`,
// online in that order; (NEG, 0) for a lane with no key or a row past the end.
fn laneStats(row: u32, lid: u32) -> vec2f {
  var m = NEG;
  var l = 0.0;
  if (row < BATCH * HEADS * SEQ) {
    let i = row % SEQ;
    for (var j = lid; j <= i; j += WG) {
      let x = score(row / SEQ, i, j);
      let mNew = max(m, x);
      l = l * exp(m - mNew) + exp(x - mNew);
      m = mNew;
    }
  }
  return vec2f(m, l);
}

// Softmax of flattened probs element e, whose row is row 0 or 1 of the workgroup's pair, from
// the pair's row maxima and sums.
fn pairProb(e: u32, firstRow: u32, pairMax: vec2f, pairSum: vec2f) -> f32 {
  let row = e / SEQ;
  let j = e % SEQ;
  let i = row % SEQ;
  if (j > i) {
    return 0.0;
  }
  let r = row - firstRow;
  return exp(score(row / SEQ, i, j) - pairMax[r]) / pairSum[r];
}

@compute @workgroup_size(WG)
fn eager_probs(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  let rowsTotal = BATCH * HEADS * SEQ;
  // Uniform per workgroup: the spare workgroups of a split dispatch leave together.
  let firstRow = 2u * groupIndex(grp.wid, grp.groups);
  if (firstRow >= rowsTotal) {
    return;
  }
  // Row statistics: each lane's online (max, sum) of both rows, then the pair's maxima and the
  // lanes' sums rescaled to them, combined by rowMax2 and rowSum (rowreduce-*.wgsl: subgroup
  // operations where the device has them, else a tree over workgroup memory). Each lane's keys,
  // and the order in which those combine lanes, are fixed, so the rows' statistics are the same
  // bits every run.
  let s0 = laneStats(firstRow, lid);
  let s1 = laneStats(firstRow + 1u, lid);
  let pairMax = rowMax2(vec2f(s0.x, s1.x), grp, inv);
  let pairSum = rowSum(vec2f(s0.y, s1.y) * exp(vec2f(s0.x, s1.x) - pairMax), grp, inv);
  let first = firstRow * SEQ;
  let end = min(firstRow + 2u, rowsTotal) * SEQ;
  if (PROBS_KIND == STORAGE_F32) {
    for (var e = first + lid; e < end; e += WG) {
      probs[e] = bitcast<u32>(pairProb(e, firstRow, pairMax, pairSum));
    }
  } else {
    // first is even, so words first/2 … cover the pair alone; the last word's high half is 0
    // when the tensor's element count is odd.
    for (var w = first / 2u + lid; 2u * w < end; w += WG) {
      var hi = 0.0;
      if (2u * w + 1u < end) {
        hi = pairProb(2u * w + 1u, firstRow, pairMax, pairSum);
      }
      probs[w] = encodePair(pairProb(2u * w, firstRow, pairMax, pairSum), hi, PROBS_KIND);
    }
  }
}

// out element e = Σ_{j ≤ i} P[i, j]·V[j, d], P as stored.
fn eagerOutElement(e: u32) -> f32 {
  let row = e / HIDDEN;
  let col = e % HIDDEN;
  let i = row % SEQ;
  let bh = (row / SEQ) * HEADS + col / HEAD_DIM;
  let d = col % HEAD_DIM;
  var s = 0.0;
  for (var j = 0u; j <= i; j++) {
    s += loadProbs(bh, i, j) * loadQkv(2u, bh, j, d);
  }
  return s;
}

@compute @workgroup_size(WG)
fn eager_out(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = groupIndex(wid, groups) * WG + lid;
  let n = BATCH * SEQ * HIDDEN;
  if (2u * w >= n) {
    return;
  }
  let lo = eagerOutElement(2u * w);
  var hi = 0.0;
  if (2u * w + 1u < n) {
    hi = eagerOutElement(2u * w + 1u);
  }
  if (OUT_KIND == STORAGE_F32) {
    out[2u * w] = bitcast<u32>(lo);
    if (2u * w + 1u < n) {
      out[2u * w + 1u] = bitcast<u32>(hi);
    }
  } else {
    out[w] = encodePair(lo, hi, OUT_KIND);
  }
}

// ---- fused forward ------------------------------------------------------------------------

// 4·TILE_ELEMS + TILE_SQUARE + 3·TILE f32: the TS side keeps it within the workgroup memory limit.
var<workgroup> qTile: array<f32, TILE_ELEMS>;
var<workgroup> kTile: array<f32, TILE_ELEMS>;
var<workgroup> vTile: array<f32, TILE_ELEMS>;
// Unnormalised output of the tile's query rows, rescaled whenever a row's max grows.
var<workgroup> accTile: array<f32, TILE_ELEMS>;
// Scores of the tile's queries × keys, then their exp(score − running max).
var<workgroup> sTile: array<f32, TILE_SQUARE>;
var<workgroup> tileMax: array<f32, TILE>;
var<workgroup> tileSum: array<f32, TILE>;
var<workgroup> rowRescale: array<f32, TILE>;

@compute @workgroup_size(WG)
fn fused_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let blocks = (SEQ + TILE - 1u) / TILE;
  let g = groupIndex(wid, groups);
  if (g >= BATCH * HEADS * blocks) {
    return;
  }
  let bh = g / blocks;
  let qb = g % blocks;
  let i0 = qb * TILE;
  for (var e = lid; e < TILE_ELEMS; e += WG) {
    let i = i0 + e / HEAD_DIM;
    var x = 0.0;
    if (i < SEQ) {
      x = loadQkv(0u, bh, i, e % HEAD_DIM);
    }
    qTile[e] = x;
    accTile[e] = 0.0;
  }
  for (var r = lid; r < TILE; r += WG) {
    tileMax[r] = NEG;
    tileSum[r] = 0.0;
  }
  // Causal: the tile's last query is i0 + TILE − 1, so key tiles 0 … qb (TILE keys each).
  for (var kb = 0u; kb <= qb; kb++) {
    let j0 = kb * TILE;
    for (var e = lid; e < TILE_ELEMS; e += WG) {
      let j = j0 + e / HEAD_DIM;
      var k = 0.0;
      var v = 0.0;
      if (j < SEQ) {
        k = loadQkv(1u, bh, j, e % HEAD_DIM);
        v = loadQkv(2u, bh, j, e % HEAD_DIM);
      }
      kTile[e] = k;
      vTile[e] = v;
    }
    workgroupBarrier();
    for (var e = lid; e < TILE_SQUARE; e += WG) {
      let r = e / TILE;
      let c = e % TILE;
      var x = NEG;
      if (i0 + r < SEQ && j0 + c <= i0 + r) {
        var s = 0.0;
        for (var d = 0u; d < HEAD_DIM; d++) {
          s += qTile[r * HEAD_DIM + d] * kTile[c * HEAD_DIM + d];
        }
        x = s * SCALE;
      }
      sTile[e] = x;
    }
    workgroupBarrier();
    // Online softmax, one lane per query row: new max, rescale factor of the old sum and
    // accumulator, and the tile's probabilities relative to the new max.
    for (var r = lid; r < TILE; r += WG) {
      let i = i0 + r;
      let mOld = tileMax[r];
      var mNew = mOld;
      for (var c = 0u; c < TILE; c++) {
        if (i < SEQ && j0 + c <= i) {
          mNew = max(mNew, sTile[r * TILE + c]);
        }
      }
      var sum = 0.0;
      for (var c = 0u; c < TILE; c++) {
        var p = 0.0;
        if (i < SEQ && j0 + c <= i) {
          p = exp(sTile[r * TILE + c] - mNew);
        }
        sTile[r * TILE + c] = p;
        sum += p;
      }
      let a = exp(mOld - mNew);
      rowRescale[r] = a;
      tileSum[r] = tileSum[r] * a + sum;
      tileMax[r] = mNew;
    }
    workgroupBarrier();
    for (var e = lid; e < TILE_ELEMS; e += WG) {
      let r = e / HEAD_DIM;
      let d = e % HEAD_DIM;
      var s = accTile[e] * rowRescale[r];
      for (var c = 0u; c < TILE; c++) {
        s += sTile[r * TILE + c] * vTile[c * HEAD_DIM + d];
      }
      accTile[e] = s;
    }
    // The next tile's loads overwrite kTile, vTile and sTile.
    workgroupBarrier();
  }
  if (OUT_KIND == STORAGE_F32) {
    for (var e = lid; e < TILE_ELEMS; e += WG) {
      let r = e / HEAD_DIM;
      if (i0 + r < SEQ) {
        out[headIndex(bh, i0 + r, e % HEAD_DIM)] = bitcast<u32>(accTile[e] / tileSum[r]);
      }
    }
  } else {
    // HEAD_DIM is even for packed outputs (checked on the TS side): a head's lanes 2p, 2p + 1
    // fill one word, and no word is shared with another workgroup.
    for (var e = 2u * lid; e < TILE_ELEMS; e += 2u * WG) {
      let r = e / HEAD_DIM;
      if (i0 + r < SEQ) {
        let idx = headIndex(bh, i0 + r, e % HEAD_DIM);
        out[idx / 2u] = encodePair(accTile[e] / tileSum[r], accTile[e + 1u] / tileSum[r], OUT_KIND);
      }
    }
  }
  for (var r = lid; r < TILE; r += WG) {
    if (i0 + r < SEQ) {
      lse[bh * SEQ + i0 + r] = tileMax[r] + log(tileSum[r]);
    }
  }
}

// ---- backward -----------------------------------------------------------------------------

// One chunk of dS (or P) values, WG keys or queries at a time.
var<workgroup> chunk: array<f32, WG>;
// The workgroup's row of dQ, dK or dV, one lane per d (strided).
var<workgroup> accRow: array<f32, HEAD_DIM>;

// Where backward_q parks D of (bh, i) for backward_k: lane (head mod GROUP) of that row's
// dV slot, one lane per query head sharing the kv head.
fn parkedD(bh: u32, i: u32) -> u32 {
  return qkvIndex(2u, bh, i, (bh % HEADS) % GROUP);
}

@compute @workgroup_size(WG)
fn backward_q(grp: RowGroup, inv: RowInvocation) {
  let lid = inv.lid;
  // Uniform per workgroup: the spare workgroups of a split dispatch leave together.
  let g = groupIndex(grp.wid, grp.groups);
  if (g >= BATCH * HEADS * SEQ) {
    return;
  }
  let bh = g / SEQ;
  let i = g % SEQ;
  var part = 0.0;
  if (FUSED) {
    for (var d = lid; d < HEAD_DIM; d += WG) {
      part += dOut[headIndex(bh, i, d)] * loadOut(bh, i, d);
    }
  } else {
    for (var j = lid; j <= i; j += WG) {
      part += loadProbs(bh, i, j) * dProb(bh, i, j);
    }
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    accRow[d] = 0.0;
  }
  // D: the lanes' partial sums (each over fixed keys or lanes d, in order) combined by rowSum
  // (rowreduce-*.wgsl) in a fixed order, so the same bits every run; its barriers also publish
  // the zeroed accRow.
  let D = rowSum(vec2f(part, 0.0), grp, inv).x;
  if (lid == 0u) {
    dQkv[parkedD(bh, i)] = D;
  }
  for (var j0 = 0u; j0 <= i; j0 += WG) {
    let j = j0 + lid;
    var ds = 0.0;
    if (j <= i) {
      ds = prob(bh, i, j) * (dProb(bh, i, j) - D);
    }
    chunk[lid] = ds;
    workgroupBarrier();
    let n = min(WG, i + 1u - j0);
    for (var d = lid; d < HEAD_DIM; d += WG) {
      var s = accRow[d];
      for (var c = 0u; c < n; c++) {
        s += chunk[c] * loadQkv(1u, bh, j0 + c, d);
      }
      accRow[d] = s;
    }
    workgroupBarrier();
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    dQkv[qkvIndex(0u, bh, i, d)] = accRow[d] * SCALE;
  }
}

// dK (part 1) = scale·Σ_{i ≥ j} dS[i, j]·Q_i, or dV (part 2) = Σ_{i ≥ j} P[i, j]·dO_i, for key
// row j of kv slot bkv = b·KV_HEADS + kv head, summed over the GROUP query heads reading it.
fn keyRow(part: u32, bkv: u32, j: u32, lid: u32) {
  for (var d = lid; d < HEAD_DIM; d += WG) {
    accRow[d] = 0.0;
  }
  let first = (bkv / KV_HEADS) * HEADS + (bkv % KV_HEADS) * GROUP;
  for (var bh = first; bh < first + GROUP; bh++) {
    for (var i0 = j; i0 < SEQ; i0 += WG) {
      let i = i0 + lid;
      var x = 0.0;
      if (i < SEQ) {
        x = prob(bh, i, j);
        if (part == 1u) {
          x *= dProb(bh, i, j) - dQkv[parkedD(bh, i)];
        }
      }
      chunk[lid] = x;
      workgroupBarrier();
      let n = min(WG, SEQ - i0);
      for (var d = lid; d < HEAD_DIM; d += WG) {
        var s = accRow[d];
        for (var c = 0u; c < n; c++) {
          if (part == 1u) {
            s += chunk[c] * loadQkv(0u, bh, i0 + c, d);
          } else {
            s += chunk[c] * dOut[headIndex(bh, i0 + c, d)];
          }
        }
        accRow[d] = s;
      }
      workgroupBarrier();
    }
  }
  for (var d = lid; d < HEAD_DIM; d += WG) {
    dQkv[qkvIndex(part, first, j, d)] = select(accRow[d], accRow[d] * SCALE, part == 1u);
  }
}

@compute @workgroup_size(WG)
fn backward_k(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = groupIndex(wid, groups);
  if (g >= BATCH * KV_HEADS * SEQ) {
    return;
  }
  keyRow(1u, g / SEQ, g % SEQ, lid);
}

@compute @workgroup_size(WG)
fn backward_v(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = groupIndex(wid, groups);
  if (g >= BATCH * KV_HEADS * SEQ) {
    return;
  }
  keyRow(2u, g / SEQ, g % SEQ, lid);
}

/**
 * 16-bit floats <-> float32, bit-exact, as 16-bit words (Uint16Array) the way safetensors stores F16 and BF16.
 *   bf16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits); widening is exact.
 *   f16:  IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits); widening is exact, subnormals included.
 * Narrowing rounds to nearest, ties to even, as PyTorch's `.to(torch.bfloat16)` / `.half()` do; NaN stays NaN and
 * f16 overflows to ±Infinity.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of a float32. */
function bitsOf(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The float32 with these bits. */
function floatOf(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** bf16 word -> float32 (exact). */
export function bf16ToF32(h: number): number {
  return floatOf(h << 16);
}

/** float32 -> bf16 word, round to nearest even; NaN -> a quiet NaN. */
export function f32ToBf16(x: number): number {
  const b = bitsOf(x);
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0) return ((b >>> 16) | 0x0040) & 0xffff; // NaN stays NaN
  const lsb = (b >>> 16) & 1;
  return ((b + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** f16 word -> float32 (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals: mant · 2^-24
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 -> f16 word, round to nearest even; overflow -> ±Infinity, NaN -> a quiet NaN. */
export function f32ToF16(x: number): number {
  const b = bitsOf(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15; // the f16 exponent field this value would have
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal in f16 (or zero): the value is m · 2^-24 with m = full mantissa (24 bits) >> (14 - e), rounded.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(full, shift);
  }
  return sign | ((e << 10) + roundShift(mant, 13)); // a carry out of the mantissa bumps the exponent, as it should
}

/** `v >> shift`, rounded to nearest, ties to even. */
function roundShift(v: number, shift: number): number {
  const q = v >>> shift;
  const rest = v - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q;
}

/** Decodes `n` little-endian values of `dtype` from `bytes` into a new Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: 'F32' | 'F16' | 'BF16', n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  else if (dtype === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToF32(view.getUint16(2 * i, true));
  else for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(2 * i, true));
  return out;
}

import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, toFloat32 } from '../../src/checkpoint/half.ts';

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

describe('bf16', () => {
  it('narrows by hand-checked examples: round to nearest, ties to even, overflow to Infinity, NaN kept', () => {
    const cases: [number, number][] = [
      [1, 0x3f80],
      [-2.5, 0xc020],
      [1 + 2 ** -7, 0x3f81], // exactly representable
      [1 + 2 ** -8, 0x3f80], // halfway between 0x3f80 and 0x3f81: to the even one
      [1 + 2 ** -7 + 2 ** -8, 0x3f82], // halfway, odd below: up
      [1 + 2 ** -8 + 2 ** -9, 0x3f81], // above halfway: up
      [3.4028234663852886e38, 0x7f80], // float32 max rounds past bf16's max
      [Infinity, 0x7f80],
      [-0, 0x8000],
    ];
    for (const [x, h] of cases) expect(hex(f32ToBf16(x)), `${x}`).toBe(hex(h));
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });

  it('every one of the 65,536 words widens exactly and narrows back to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = bf16ToF32(h);
      if (Number.isNaN(x)) continue;
      if (f32ToBf16(x) !== h) throw new Error(`${hex(h)} -> ${x} -> ${hex(f32ToBf16(x))}`);
    }
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0x4049)).toBe(3.140625);
  });
});

describe('f16', () => {
  it('narrows by hand-checked examples, subnormals and overflow included', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [1 / 3, 0x3555],
      [0.1, 0x2e66],
      [65504, 0x7bff], // largest finite
      [65519, 0x7bff], // below halfway to 65536
      [65520, 0x7c00], // halfway: ties to even, which is Infinity
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway between 0 and 2^-24: to even (0)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // 1.5 · 2^-24: halfway, odd below: up
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up out of the subnormals
      [-0, 0x8000],
      [1e-10, 0x0000],
      [-Infinity, 0xfc00],
    ];
    for (const [x, h] of cases) expect(hex(f32ToF16(x)), `${x}`).toBe(hex(h));
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x7bff)).toBe(65504);
  });

  it('every one of the 65,536 words widens exactly and narrows back to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16ToF32(h);
      if (Number.isNaN(x)) continue;
      if (f32ToF16(x) !== h) throw new Error(`${hex(h)} -> ${x} -> ${hex(f32ToF16(x))}`);
    }
  });
});

describe('toFloat32', () => {
  it('decodes little-endian F32, BF16 and F16 bytes', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -3]).buffer);
    expect([...toFloat32(f32, 'F32', 2)]).toEqual([1.5, -3]);
    expect([...toFloat32(Uint8Array.of(0x80, 0x3f, 0x20, 0xc0), 'BF16', 2)]).toEqual([1, -2.5]);
    expect([...toFloat32(Uint8Array.of(0x00, 0x3c, 0x00, 0xc0), 'F16', 2)]).toEqual([1, -2]);
  });
});

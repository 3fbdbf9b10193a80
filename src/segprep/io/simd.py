"""The horizontal pass of Pillow's BILINEAR for RGB rows, four output pixels at a time in vector registers.

numba does not vectorise the scalar pass (each output pixel reads its own window of source pixels),
so the body of one group of four output pixels is written here as LLVM vector IR (a numba
intrinsic, inlined into the compiled loop and cached with it). The arithmetic is the scalar pass's,
lane by lane: each of the four pixels is loaded as four bytes (R, G, B and the next pixel's R, which
is dropped), widened to 32 bits, multiplied by the pixel's 22-bit weight and summed from half a unit;
then shifted right by 22, clamped to 0..255 and stored as 12 bytes. 32-bit lanes hold every sum
exactly (8-bit x 22-bit products; BILINEAR weights are never negative and sum to one unit), so the
output is the scalar pass's to the bit (the tests compare both with Pillow). LLVM lowers the
vectors to whatever the CPU has: two AVX2 instructions per operation here, four with SSE2, NEON on ARM.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from segprep.io.kernels import _HALF32, PRECISION_BITS

GROUP = 4  # output pixels per vector step: 16 lanes of 32 bits
_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)


def _const(value: int) -> ir.Constant:
    return ir.Constant(_I64, value)


def _splat(width: int, value: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, width), [value] * width)


def _data(context, builder, array_type, value):
    return context.make_array(array_type)(context, builder, value=value).data


@intrinsic
def _rgb_group(typingctx, line, starts, weights, group, taps, out):
    """Output pixels ``GROUP*group ...`` of one row: ``out`` bytes from ``3*GROUP*group``, reading ``line``
    at ``3*(starts[i] + t)`` for t < ``taps`` with ``weights[(group*taps + t)*GROUP + i % GROUP]``."""
    signature = types.void(line, starts, weights, group, taps, out)
    lanes = 4 * GROUP

    def codegen(context, builder, sig, args):
        line_v, starts_v, weights_v, group_v, taps_v, out_v = args
        line_p = _data(context, builder, sig.args[0], line_v)
        starts_p = _data(context, builder, sig.args[1], starts_v)
        weights_p = _data(context, builder, sig.args[2], weights_v)
        out_p = _data(context, builder, sig.args[5], out_v)
        pixels_t, wide_t = ir.VectorType(_I32, GROUP), ir.VectorType(_I32, lanes)
        first = builder.mul(group_v, _const(GROUP))
        offsets = [builder.mul(builder.load(builder.gep(starts_p, [builder.add(first, _const(p))])), _const(3))
                   for p in range(GROUP)]
        weight_row = builder.mul(builder.mul(group_v, taps_v), _const(GROUP))
        start_block = builder.block
        loop = builder.append_basic_block("tap")
        done = builder.append_basic_block("sum")
        builder.cbranch(builder.icmp_signed(">", taps_v, _const(0)), loop, done)

        builder.position_at_end(loop)  # acc += widened pixels * their weights, one tap per turn
        tap = builder.phi(_I64)
        acc = builder.phi(wide_t)
        tap.add_incoming(_const(0), start_block)
        acc.add_incoming(_splat(lanes, int(_HALF32)), start_block)
        step = builder.mul(tap, _const(3))
        pixels = ir.Constant(pixels_t, ir.Undefined)
        for p in range(GROUP):
            address = builder.bitcast(builder.gep(line_p, [builder.add(offsets[p], step)]), _I32.as_pointer())
            pixels = builder.insert_element(pixels, builder.load(address, align=1), ir.Constant(_I32, p))
        widened = builder.zext(builder.bitcast(pixels, ir.VectorType(_I8, lanes)), wide_t)
        weight_p = builder.gep(weights_p, [builder.add(weight_row, builder.mul(tap, _const(GROUP)))])
        four = builder.load(builder.bitcast(weight_p, pixels_t.as_pointer()), align=4)
        spread = builder.shuffle_vector(four, ir.Constant(pixels_t, ir.Undefined),
                                        ir.Constant(wide_t, [i // 4 for i in range(lanes)]))
        summed = builder.add(acc, builder.mul(widened, spread))
        next_tap = builder.add(tap, _const(1))
        tap.add_incoming(next_tap, loop)
        acc.add_incoming(summed, loop)
        builder.cbranch(builder.icmp_signed("<", next_tap, taps_v), loop, done)

        builder.position_at_end(done)  # >> 22, clamp to 0..255, drop every fourth byte, store 3*GROUP bytes
        total = builder.phi(wide_t)
        total.add_incoming(_splat(lanes, int(_HALF32)), start_block)
        total.add_incoming(summed, loop)
        value = builder.ashr(total, _splat(lanes, PRECISION_BITS))
        zero, top = _splat(lanes, 0), _splat(lanes, 255)
        value = builder.select(builder.icmp_signed("<", value, zero), zero, value)
        value = builder.select(builder.icmp_signed(">", value, top), top, value)
        as_bytes = builder.trunc(value, ir.VectorType(_I8, lanes))
        rgb = builder.shuffle_vector(as_bytes, ir.Constant(ir.VectorType(_I8, lanes), ir.Undefined),
                                     ir.Constant(ir.VectorType(_I32, 3 * GROUP), [i for i in range(lanes) if i % 4 != 3]))
        target = builder.gep(out_p, [builder.mul(first, _const(3))])
        builder.store(rgb, builder.bitcast(target, ir.VectorType(_I8, 3 * GROUP).as_pointer()), align=1)
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True, nogil=True)
def bilinear_horizontal_rgb(src: np.ndarray, y0: int, starts: np.ndarray, grouped: np.ndarray, taps: int,
                            groups: int, out: np.ndarray) -> None:
    """The first ``GROUP * groups`` pixels of ``out`` (rows, 3*out_w) = RGB source rows ``y0 + r`` of ``src``
    (H, 3*W) resampled along x; ``starts`` (out_w,) first source pixel of each output pixel, every window
    ``taps`` wide; ``grouped`` their weights laid out (group, tap, pixel of the group). The groups end
    before the first window that ends at the row's last pixel (a vector step reads one byte past each
    window); ``io.resample`` computes the pixels after them with the scalar pass."""
    for r in range(out.shape[0]):
        line = src[y0 + r]
        target = out[r]
        for g in range(groups):
            _rgb_group(line, starts, grouped, g, taps, target)

using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>The fused C3S4 kernels: C3 (Table I) and S4 for a tile of S2 maps (see <see cref="FusedKernels"/>).</summary>
public static partial class FusedKernels
{
    /// <summary>
    /// C3 (identity, Table I mask) and S4 (squashed) for a tile of S2 maps [n][6][14][14] → S4 [n][16][5][5].
    /// One thread per (image, S4 position) computes that position for all 16 maps (64 accumulators): the loop over
    /// input maps and the mask test are the same in every thread, so the mask never splits a warp.
    /// Grid: ⌈count / <see cref="C3S4Tile"/>⌉ groups.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C3S4Group)]
    public static void C3S4(int count, int activation, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4) =>
        C3S4With(count, activation, Squash.Identity, s2, c3Weight, c3Bias, c3Mask, s4Coefficient, s4Bias, s4);

    /// <summary><see cref="C3S4"/> with C3 squashed (see <see cref="C1S2SquashedFromFloats"/>).</summary>
    [ExplicitlyGroupedKernel(GroupSize = C3S4Group)]
    public static void C3S4Squashed(int count, int activation, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4) =>
        C3S4With(count, activation, activation, s2, c3Weight, c3Bias, c3Mask, s4Coefficient, s4Bias, s4);

    private static void C3S4With(int count, int activation, int convolution, ArrayView<float> s2,
        ArrayView<float> c3Weight, ArrayView<float> c3Bias, ArrayView<int> c3Mask,
        ArrayView<float> s4Coefficient, ArrayView<float> s4Bias, ArrayView<float> s4)
    {
        var tile = SharedMemory.Allocate<float>(C3S4Tile * S2Length);
        var p = SharedMemory.Allocate<float>(C3S4Parameters);
        var mask = SharedMemory.Allocate<int>(C3Mask);
        int first = Grid.IdxX * C3S4Tile, valid = Valid(count, first, C3S4Tile);
        for (int e = Group.IdxX; e < valid * S2Length; e += Group.DimX)
            tile[e] = s2[first * S2Length + e];
        for (int e = Group.IdxX; e < C3S4Parameters; e += Group.DimX)
        {
            if (e < C3Bias) p[e] = c3Weight[e];
            else if (e < S4Coefficient) p[e] = c3Bias[e - C3Bias];
            else if (e < S4Bias) p[e] = s4Coefficient[e - S4Coefficient];
            else p[e] = s4Bias[e - S4Bias];
        }
        for (int e = Group.IdxX; e < C3Mask; e += Group.DimX)
            mask[e] = c3Mask[e];
        Group.Barrier();

        for (int item = Group.IdxX; item < valid * S4Pixels; item += Group.DimX)
        {
            int n = item / S4Pixels, position = item - n * S4Pixels, y = position / S4Size, x = position - y * S4Size;
            // One named accumulator per C3 map (C3Maps = 16), written out so they stay in registers; the numbers are map indices.
            Quad q0 = new(p[C3Bias]), q1 = new(p[C3Bias + 1]), q2 = new(p[C3Bias + 2]), q3 = new(p[C3Bias + 3]);
            Quad q4 = new(p[C3Bias + 4]), q5 = new(p[C3Bias + 5]), q6 = new(p[C3Bias + 6]), q7 = new(p[C3Bias + 7]);
            Quad q8 = new(p[C3Bias + 8]), q9 = new(p[C3Bias + 9]), q10 = new(p[C3Bias + 10]), q11 = new(p[C3Bias + 11]);
            Quad q12 = new(p[C3Bias + 12]), q13 = new(p[C3Bias + 13]), q14 = new(p[C3Bias + 14]), q15 = new(p[C3Bias + 15]);
            for (int i = 0; i < S2Maps; i++)
                for (int ky = 0; ky < KernelSize; ky++)
                {
                    int row = ((n * S2Maps + i) * S2Size + 2 * y + ky) * S2Size + 2 * x;
                    var top = Row6.Load(tile, row);
                    var bottom = Row6.Load(tile, row + S2Size);
                    q0 = C3Taps(q0, 0, i, ky, p, mask, top, bottom);
                    q1 = C3Taps(q1, 1, i, ky, p, mask, top, bottom);
                    q2 = C3Taps(q2, 2, i, ky, p, mask, top, bottom);
                    q3 = C3Taps(q3, 3, i, ky, p, mask, top, bottom);
                    q4 = C3Taps(q4, 4, i, ky, p, mask, top, bottom);
                    q5 = C3Taps(q5, 5, i, ky, p, mask, top, bottom);
                    q6 = C3Taps(q6, 6, i, ky, p, mask, top, bottom);
                    q7 = C3Taps(q7, 7, i, ky, p, mask, top, bottom);
                    q8 = C3Taps(q8, 8, i, ky, p, mask, top, bottom);
                    q9 = C3Taps(q9, 9, i, ky, p, mask, top, bottom);
                    q10 = C3Taps(q10, 10, i, ky, p, mask, top, bottom);
                    q11 = C3Taps(q11, 11, i, ky, p, mask, top, bottom);
                    q12 = C3Taps(q12, 12, i, ky, p, mask, top, bottom);
                    q13 = C3Taps(q13, 13, i, ky, p, mask, top, bottom);
                    q14 = C3Taps(q14, 14, i, ky, p, mask, top, bottom);
                    q15 = C3Taps(q15, 15, i, ky, p, mask, top, bottom);
                }
            int at = (first + n) * S4Length + position;
            S4Out(s4, at, 0, q0, p, activation, convolution); S4Out(s4, at, 1, q1, p, activation, convolution);
            S4Out(s4, at, 2, q2, p, activation, convolution); S4Out(s4, at, 3, q3, p, activation, convolution);
            S4Out(s4, at, 4, q4, p, activation, convolution); S4Out(s4, at, 5, q5, p, activation, convolution);
            S4Out(s4, at, 6, q6, p, activation, convolution); S4Out(s4, at, 7, q7, p, activation, convolution);
            S4Out(s4, at, 8, q8, p, activation, convolution); S4Out(s4, at, 9, q9, p, activation, convolution);
            S4Out(s4, at, 10, q10, p, activation, convolution); S4Out(s4, at, 11, q11, p, activation, convolution);
            S4Out(s4, at, 12, q12, p, activation, convolution); S4Out(s4, at, 13, q13, p, activation, convolution);
            S4Out(s4, at, 14, q14, p, activation, convolution); S4Out(s4, at, 15, q15, p, activation, convolution);
        }
    }

    /// <summary>One kernel row of C3 map <paramref name="o"/> over S2 map <paramref name="i"/>, if Table I connects them.</summary>
    private static Quad C3Taps(Quad q, int o, int i, int ky, ArrayView<float> p, ArrayView<int> mask, Row6 top, Row6 bottom)
    {
        if (mask[o * S2Maps + i] == 0) return q;
        return q.Add(Taps5.Load(p, ((o * S2Maps + i) * KernelSize + ky) * KernelSize), top, bottom);
    }

    private static void S4Out(ArrayView<float> s4, int at, int o, Quad q, ArrayView<float> p, int activation, int convolution) =>
        s4[at + o * S4Pixels] = Squash.Apply(p[S4Coefficient + o] * q.Sum(convolution) + p[S4Bias + o], activation);
}

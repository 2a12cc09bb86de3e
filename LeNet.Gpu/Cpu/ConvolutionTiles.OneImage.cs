using System.Runtime.Intrinsics;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The convolutions' backward pass for a per-pattern step's one image (image-major maps, <c>TileEngine.Pattern.cs</c>),
/// vectorised within the image rather than across images: each sum is a tile lane's chain of fused multiply-adds
/// from +0, in the tile's order of terms, so the step keeps the tiled pass's bits (PatternPathTests).
/// </summary>
internal static unsafe partial class ConvolutionTiles
{
    private const int Taps = KernelSize * KernelSize;
    // dC3's rows padded for a kernel's reach (KernelSize − 1 zeros before, more after): 4 + 10 + 10 floats, and 4 zero
    // rows above and 6 below, so that blocks of four S2 rows (up to row 15) read only inside the scratch.
    private const int RowPad = KernelSize - 1, RowStride = RowPad + C3Size + 10, PaddedRows = RowPad + C3Size + 6;

    /// <summary>Scratch of the one-image kernels: the gradients pixel-major (maps in a vector) and dC3's padded rows.</summary>
    public sealed class OneImageScratch
    {
        public readonly PinnedBuffer<float> C1ByPixel = new(C1Size * C1Size * 8), C3ByPixel = new(C3Size * C3Size * 16),
            C3Rows = new(C3Maps * PaddedRows * RowStride), Rows = new(16 * 16);
    }

    /// <summary>
    /// C3's input gradient of one image: the chain of <see cref="InputGradientC3{TS, TV}"/> per S2 pixel (connected
    /// outputs, kernel rows, kx), vectorised across an S2 row's 14 pixels (two vectors of 8), four rows at a time (eight
    /// independent chains), plus fused multiply-adds of zero where a term falls outside the map. Those change nothing: a
    /// chain started at +0 is never −0 (round to nearest gives −0 only for −0 + −0), and a + (±0) = a for every other a.
    /// </summary>
    public static void InputGradientC3OfOneImage(float* dOut, float* weights, int[] start, int[] outputsOf, OneImageScratch scratch, float* dIn)
    {
        float* rows = scratch.C3Rows.Pointer, block = scratch.Rows.Pointer;
        new Span<float>(rows, C3Maps * PaddedRows * RowStride).Clear();
        for (int o = 0; o < C3Maps; o++)
            for (int y = 0; y < C3Size; y++)
                new ReadOnlySpan<float>(dOut + (o * C3Size + y) * C3Size, C3Size)
                    .CopyTo(new Span<float>(rows + (o * PaddedRows + y + RowPad) * RowStride + RowPad, C3Size));
        for (int i = 0; i < C1Maps; i++)
        {
            // Rows y0 … y0+3 (up to 15: the last two land in scratch only).
            for (int y0 = 0; y0 < S2Size; y0 += 4)
            {
                Vector256<float> l0 = Vector256<float>.Zero, h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
                // Kernel rows whose terms fall outside the map for all four rows are left out: they would add zeros only.
                int kyLo = Math.Max(0, y0 - (C3Size - 1)), kyHi = Math.Min(KernelSize - 1, y0 + 3);
                for (int c = start[i]; c < start[i + 1]; c++)
                {
                    int o = outputsOf[c];
                    for (int ky = kyLo; ky <= kyHi; ky++)
                    {
                        float* w = weights + (o * C1Maps + i) * Taps + ky * KernelSize;
                        // r[X − kx] for the pixel X of each lane, output row y − ky of the padded map.
                        float* r = rows + (o * PaddedRows + y0 - ky + RowPad) * RowStride + RowPad;
                        for (int kx = 0; kx < KernelSize; kx++)
                        {
                            var v = Vector256.Create(w[kx]);
                            float* q = r - kx;
                            l0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q), l0);
                            h0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 8), h0);
                            l1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + RowStride), l1);
                            h1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + RowStride + 8), h1);
                            l2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 2 * RowStride), l2);
                            h2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 2 * RowStride + 8), h2);
                            l3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 3 * RowStride), l3);
                            h3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 3 * RowStride + 8), h3);
                        }
                    }
                }
                l0.Store(block); h0.Store(block + 8); l1.Store(block + 16); h1.Store(block + 24);
                l2.Store(block + 32); h2.Store(block + 40); l3.Store(block + 48); h3.Store(block + 56);
                for (int y = y0; y < Math.Min(y0 + 4, S2Size); y++)
                    new ReadOnlySpan<float>(block + (y - y0) * 16, S2Size).CopyTo(new Span<float>(dIn + (i * S2Size + y) * S2Size, S2Size));
            }
        }
    }

    /// <summary>
    /// C1's weight and bias gradients of one image, vectorised across the six output maps: weight[o][ky·5+kx] =
    /// Σ_(y,x) dC1[o,y,x] · in[y+ky, x+kx] and bias[o] = Σ dC1[o,y,x], each the chain of <see cref="WeightGradient{TS, TV}"/>
    /// (its bias sum) from +0, pixels row by row; two kernel rows at a time (ten independent chains).
    /// </summary>
    public static void C1WeightGradientOfOneImage(float* dC1, float* input, float* weightGradient, float* biasGradient, OneImageScratch scratch)
    {
        const int Maps = C1Maps, Size = C1Size, Pixels = Size * Size, InSize = InputSize;
        float* dMaps = scratch.C1ByPixel.Pointer, lanes = scratch.Rows.Pointer;
        // dMaps[p] = (dC1[0][p], …, dC1[5][p], 0, 0): one vector per pixel.
        for (int p = 0; p < Pixels; p++)
        {
            for (int o = 0; o < Maps; o++) dMaps[p * 8 + o] = dC1[o * Pixels + p];
            dMaps[p * 8 + 6] = dMaps[p * 8 + 7] = 0f;
        }
        var bias = Vector256<float>.Zero;
        for (int p = 0; p < Pixels; p++) bias += Vector256.Load(dMaps + p * 8);
        bias.Store(lanes);
        for (int o = 0; o < Maps; o++) biasGradient[o] = lanes[o];
        for (int ky = 0; ky < KernelSize; ky += 2)
        {
            bool two = ky + 1 < KernelSize;
            Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0, s4 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0, t4 = s0;
            for (int y = 0; y < Size; y++)
            {
                float* row = input + (y + ky) * InSize, next = two ? row + InSize : row;
                float* d = dMaps + y * Size * 8;
                for (int x = 0; x < Size; x++, d += 8)
                {
                    var dv = Vector256.Load(d);
                    s0 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(row[x]), s0);
                    s1 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(row[x + 1]), s1);
                    s2 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(row[x + 2]), s2);
                    s3 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(row[x + 3]), s3);
                    s4 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(row[x + 4]), s4);
                    t0 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(next[x]), t0);
                    t1 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(next[x + 1]), t1);
                    t2 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(next[x + 2]), t2);
                    t3 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(next[x + 3]), t3);
                    t4 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(next[x + 4]), t4);
                }
            }
            s0.Store(lanes); s1.Store(lanes + 8); s2.Store(lanes + 16); s3.Store(lanes + 24); s4.Store(lanes + 32);
            t0.Store(lanes + 40); t1.Store(lanes + 48); t2.Store(lanes + 56); t3.Store(lanes + 64); t4.Store(lanes + 72);
            for (int r = 0; r < (two ? 2 : 1); r++)
                for (int kx = 0; kx < KernelSize; kx++)
                    for (int o = 0; o < Maps; o++) weightGradient[o * Taps + (ky + r) * KernelSize + kx] = lanes[(r * KernelSize + kx) * 8 + o];
        }
    }

    /// <summary>
    /// C3's weight and bias gradients of one image, vectorised across the 16 output maps (two vectors of 8): for each S2
    /// map i and connected output o, weight[o][i][ky·5+kx] = Σ_(y,x) dC3[o,y,x] · s2[i, y+ky, x+kx], and bias[o] =
    /// Σ dC3[o,y,x], each the chain of <see cref="WeightGradient{TS, TV}"/> (its bias sum) from +0.
    /// The lanes of maps that i does not feed are computed and dropped; masked weights are left as they are (the caller's 0).
    /// </summary>
    public static void C3WeightGradientOfOneImage(float* dC3, float* s2, int[] start, int[] outputsOf, float* weightGradient, float* biasGradient,
        OneImageScratch scratch)
    {
        const int Size = C3Size, InSize = S2Size, Pixels = Size * Size, InMap = InSize * InSize;
        float* dMaps = scratch.C3ByPixel.Pointer, lanes = scratch.Rows.Pointer;
        for (int p = 0; p < Pixels; p++)
            for (int o = 0; o < C3Maps; o++) dMaps[p * 16 + o] = dC3[o * Pixels + p];
        Vector256<float> bl = Vector256<float>.Zero, bh = bl;
        for (int p = 0; p < Pixels; p++)
        {
            bl += Vector256.Load(dMaps + p * 16);
            bh += Vector256.Load(dMaps + p * 16 + 8);
        }
        bl.Store(lanes);
        bh.Store(lanes + 8);
        for (int o = 0; o < C3Maps; o++) biasGradient[o] = lanes[o];
        for (int i = 0; i < C1Maps; i++)
        {
            float* input = s2 + i * InMap;
            for (int ky = 0; ky < KernelSize; ky++)
            {
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0;
                for (int y = 0; y < Size; y++)
                {
                    float* row = input + (y + ky) * InSize;
                    float* d = dMaps + y * Size * 16;
                    for (int x = 0; x < Size; x++, d += 16)
                    {
                        var dl = Vector256.Load(d);
                        var dh = Vector256.Load(d + 8);
                        var v0 = Vector256.Create(row[x]); a0 = Vector256.FusedMultiplyAdd(dl, v0, a0); b0 = Vector256.FusedMultiplyAdd(dh, v0, b0);
                        var v1 = Vector256.Create(row[x + 1]); a1 = Vector256.FusedMultiplyAdd(dl, v1, a1); b1 = Vector256.FusedMultiplyAdd(dh, v1, b1);
                        var v2 = Vector256.Create(row[x + 2]); a2 = Vector256.FusedMultiplyAdd(dl, v2, a2); b2 = Vector256.FusedMultiplyAdd(dh, v2, b2);
                        var v3 = Vector256.Create(row[x + 3]); a3 = Vector256.FusedMultiplyAdd(dl, v3, a3); b3 = Vector256.FusedMultiplyAdd(dh, v3, b3);
                        var v4 = Vector256.Create(row[x + 4]); a4 = Vector256.FusedMultiplyAdd(dl, v4, a4); b4 = Vector256.FusedMultiplyAdd(dh, v4, b4);
                    }
                }
                a0.Store(lanes); b0.Store(lanes + 8); a1.Store(lanes + 16); b1.Store(lanes + 24); a2.Store(lanes + 32);
                b2.Store(lanes + 40); a3.Store(lanes + 48); b3.Store(lanes + 56); a4.Store(lanes + 64); b4.Store(lanes + 72);
                for (int c = start[i]; c < start[i + 1]; c++)
                {
                    int o = outputsOf[c];
                    float* g = weightGradient + (o * C1Maps + i) * Taps + ky * KernelSize;
                    for (int kx = 0; kx < KernelSize; kx++) g[kx] = lanes[kx * 16 + o];
                }
            }
        }
    }
}

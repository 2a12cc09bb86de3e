using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The convolutions' backward pass for a per-pattern step's one image (lane 0 of a tile), vectorised within the image
/// rather than across images: each sum is the tile lane's chain of fused multiply-adds, and the empty lanes get the +0
/// the tile gives them, so the step keeps the tiled pass's bits (PatternPathTests).
/// </summary>
internal static unsafe partial class ConvolutionTiles
{
    /// <summary>
    /// C3's input gradient of one image (lane 0 of a tile; the other lanes get +0, what the tile gives them from their
    /// zero gradients), vectorised across an input row's 14 pixels (two vectors of 8) rather than the tile's lanes: the
    /// chain of <see cref="InputGradientC3{TS, TV}"/> per pixel (connected outputs, kernel rows, kx), plus fused
    /// multiply-adds of zero where a term falls outside the map. Those change nothing: a chain started at +0 is never −0
    /// (round to nearest gives −0 only for −0 + −0), and a + (±0) = a for every other a. <paramref name="rows"/>: scratch
    /// of 16·10·24 floats (dC3's rows with zeros either side).
    /// </summary>
    public static void InputGradientC3OfOneImage(float* dOut, float* weights, int[] start, int[] outputsOf, int lanes, float* rows, float* dIn)
    {
        const int Taps = KernelSize * KernelSize, Pad = 4, Stride = 24;
        for (int o = 0; o < C3Maps; o++)
            for (int y = 0; y < C3Size; y++)
            {
                float* r = rows + (o * C3Size + y) * Stride;
                for (int j = 0; j < Stride; j++)
                {
                    int x = j - Pad;
                    r[j] = x >= 0 && x < C3Size ? dOut[((long)o * C3Size * C3Size + y * C3Size + x) * lanes] : 0f;
                }
            }
        float* tail = stackalloc float[16];
        for (int i = 0; i < C1Maps; i++)
            for (int y = 0; y < S2Size; y++)
            {
                Vector256<float> lo = Vector256<float>.Zero, hi = Vector256<float>.Zero;
                int kyLo = Math.Max(0, y - (C3Size - 1)), kyHi = Math.Min(KernelSize - 1, y);
                for (int c = start[i]; c < start[i + 1]; c++)
                {
                    int o = outputsOf[c];
                    for (int ky = kyLo; ky <= kyHi; ky++)
                    {
                        float* w = weights + (o * C1Maps + i) * Taps + ky * KernelSize;
                        float* r = rows + (o * C3Size + (y - ky)) * Stride + Pad; // r[X − kx] for the pixel X of each lane
                        for (int kx = 0; kx < KernelSize; kx++)
                        {
                            var v = Vector256.Create(w[kx]);
                            lo = Vector256.FusedMultiplyAdd(v, Vector256.Load(r - kx), lo);
                            hi = Vector256.FusedMultiplyAdd(v, Vector256.Load(r + 8 - kx), hi);
                        }
                    }
                }
                lo.Store(tail);
                hi.Store(tail + 8);
                float* g = dIn + (long)(i * S2Size + y) * S2Size * lanes;
                for (int x = 0; x < S2Size; x++)
                {
                    g[(long)x * lanes] = tail[x];
                    for (int n = 1; n < lanes; n++) g[(long)x * lanes + n] = 0f;
                }
            }
    }

    /// <summary>
    /// C1's weight gradients of one image (lane 0 of a tile), vectorised across the six output maps rather than the
    /// tile's lanes: acc[o][ky·5+kx] (lane 0) += Σ_(y,x) dC1[o,y,x] · in[y+ky, x+kx], each (map, tap) the very chain of
    /// <see cref="WeightGradient{TS, TV}"/> (pixels row by row, one fused multiply-add each), so the same bits at a sixth
    /// of the tile's work. <paramref name="dMaps"/>: scratch of C1Size²·8 floats.
    /// </summary>
    public static void C1WeightGradientOfOneImage(float* dC1, float* input, int lanes, float* acc, float* dMaps)
    {
        const int Maps = 6, Size = 28, InSize = 32, Taps = KernelSize * KernelSize;
        // dMaps[p] = (dC1[0][p], …, dC1[5][p], 0, 0): one vector per pixel.
        for (int p = 0; p < Size * Size; p++)
        {
            for (int o = 0; o < Maps; o++) dMaps[p * 8 + o] = dC1[((long)o * Size * Size + p) * lanes];
            dMaps[p * 8 + 6] = dMaps[p * 8 + 7] = 0f;
        }
        float* start = stackalloc float[8];
        for (int ky = 0; ky < KernelSize; ky++)
        {
            var s = new Vector256<float>[KernelSize];
            for (int kx = 0; kx < KernelSize; kx++)
            {
                for (int o = 0; o < 8; o++) start[o] = o < Maps ? acc[((long)o * Taps + ky * KernelSize + kx) * lanes] : 0f;
                s[kx] = Vector256.Load(start);
            }
            Vector256<float> s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4];
            for (int y = 0; y < Size; y++)
            {
                float* row = input + (long)(y + ky) * InSize * lanes;
                float* d = dMaps + y * Size * 8;
                for (int x = 0; x < Size; x++, d += 8)
                {
                    var dv = Vector256.Load(d);
                    float* q = row + (long)x * lanes;
                    s0 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(q[0]), s0);
                    s1 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(q[lanes]), s1);
                    s2 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(q[2 * lanes]), s2);
                    s3 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(q[3 * lanes]), s3);
                    s4 = Vector256.FusedMultiplyAdd(dv, Vector256.Create(q[4 * lanes]), s4);
                }
            }
            s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3; s[4] = s4;
            for (int kx = 0; kx < KernelSize; kx++)
            {
                s[kx].Store(start);
                for (int o = 0; o < Maps; o++) acc[((long)o * Taps + ky * KernelSize + kx) * lanes] = start[o];
            }
        }
    }

    /// <summary>
    /// C3's weight gradients of one image (lane 0 of a tile), vectorised across the ten connections of each S2 map (two
    /// vectors of 8) rather than the tile's lanes: for pair k = (o, i) of <see cref="C3Connections.Pairs"/>,
    /// acc[k][ky·5+kx] (lane 0) += Σ_(y,x) dC3[o,y,x] · s2[i, y+ky, x+kx], each the very chain of
    /// <see cref="WeightGradient{TS, TV}"/>, so the same bits. <paramref name="dPairs"/>: scratch of 100·16 floats.
    /// </summary>
    public static void C3WeightGradientOfOneImage(float* dC3, float* s2, int lanes, float* acc, float* dPairs)
    {
        const int Size = 10, InSize = 14, Taps = KernelSize * KernelSize, Pixels = Size * Size, InMap = InSize * InSize;
        var pairs = C3Connections.Pairs;
        int* pair = stackalloc int[16];
        float* start = stackalloc float[16];
        for (int i = 0; i < 6; i++)
        {
            int n = 0;
            for (int k = 0; k < pairs.Length; k++)
                if (pairs[k].Input == i) pair[n++] = k;
            if (n > 16) throw new InvalidOperationException("an S2 map feeds more than 16 C3 maps");
            // dPairs[p] = (dC3[o of pair 0][p], …): sixteen lanes a pixel, the unused ones 0.
            for (int p = 0; p < Pixels; p++)
                for (int j = 0; j < 16; j++)
                    dPairs[p * 16 + j] = j < n ? dC3[((long)pairs[pair[j]].Output * Pixels + p) * lanes] : 0f;
            float* input = s2 + (long)i * InMap * lanes;
            for (int ky = 0; ky < KernelSize; ky++)
            {
                var lo = new Vector256<float>[KernelSize];
                var hi = new Vector256<float>[KernelSize];
                for (int kx = 0; kx < KernelSize; kx++)
                {
                    for (int j = 0; j < 16; j++) start[j] = j < n ? acc[((long)pair[j] * Taps + ky * KernelSize + kx) * lanes] : 0f;
                    lo[kx] = Vector256.Load(start);
                    hi[kx] = Vector256.Load(start + 8);
                }
                Vector256<float> a0 = lo[0], a1 = lo[1], a2 = lo[2], a3 = lo[3], a4 = lo[4];
                Vector256<float> b0 = hi[0], b1 = hi[1], b2 = hi[2], b3 = hi[3], b4 = hi[4];
                for (int y = 0; y < Size; y++)
                {
                    float* row = input + (long)(y + ky) * InSize * lanes;
                    float* d = dPairs + y * Size * 16;
                    for (int x = 0; x < Size; x++, d += 16)
                    {
                        var dl = Vector256.Load(d);
                        var dh = Vector256.Load(d + 8);
                        float* q = row + (long)x * lanes;
                        var v0 = Vector256.Create(q[0]); a0 = Vector256.FusedMultiplyAdd(dl, v0, a0); b0 = Vector256.FusedMultiplyAdd(dh, v0, b0);
                        var v1 = Vector256.Create(q[lanes]); a1 = Vector256.FusedMultiplyAdd(dl, v1, a1); b1 = Vector256.FusedMultiplyAdd(dh, v1, b1);
                        var v2 = Vector256.Create(q[2 * lanes]); a2 = Vector256.FusedMultiplyAdd(dl, v2, a2); b2 = Vector256.FusedMultiplyAdd(dh, v2, b2);
                        var v3 = Vector256.Create(q[3 * lanes]); a3 = Vector256.FusedMultiplyAdd(dl, v3, a3); b3 = Vector256.FusedMultiplyAdd(dh, v3, b3);
                        var v4 = Vector256.Create(q[4 * lanes]); a4 = Vector256.FusedMultiplyAdd(dl, v4, a4); b4 = Vector256.FusedMultiplyAdd(dh, v4, b4);
                    }
                }
                lo[0] = a0; lo[1] = a1; lo[2] = a2; lo[3] = a3; lo[4] = a4;
                hi[0] = b0; hi[1] = b1; hi[2] = b2; hi[3] = b3; hi[4] = b4;
                for (int kx = 0; kx < KernelSize; kx++)
                {
                    lo[kx].Store(start);
                    hi[kx].Store(start + 8);
                    for (int j = 0; j < n; j++) acc[((long)pair[j] * Taps + ky * KernelSize + kx) * lanes] = start[j];
                }
            }
        }
    }
}

using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// Outputs per row strip held in registers: by the weight gradient 5 (C3's rows of 10) or 4 (C1's rows of 28), by the
/// forward convolution 10 or 9 (C1's rows of 28 = 10 + 9 + 9, C3's of 10).
/// </summary>
internal interface IRowWidth { static abstract int Value { get; } }
internal struct Width4 : IRowWidth { public static int Value => 4; }
internal struct Width5 : IRowWidth { public static int Value => 5; }
internal struct Width9 : IRowWidth { public static int Value => 9; }
internal struct Width10 : IRowWidth { public static int Value => 10; }

/// <summary>
/// The taps of a 5×5 convolution with a connection table, per output map, in compressed-row form: tap t of map o
/// (Start[o] ≤ t &lt; Start[o+1]) reads the input at float offset Offset[t] from the output's anchor and multiplies
/// it by weights[Weight[t]] (by the five weights from there, for kernel rows). Masked connections simply have no
/// taps, so masked weights are never read.
/// </summary>
internal sealed class ConvolutionTaps
{
    public readonly int[] Start, Offset, Weight;

    private ConvolutionTaps(List<(int Map, int Offset, int Weight)> taps, int maps)
    {
        Start = new int[maps + 1];
        Offset = new int[taps.Count];
        Weight = new int[taps.Count];
        for (int t = 0; t < taps.Count; t++)
        {
            Start[taps[t].Map + 1]++;
            Offset[t] = taps[t].Offset;
            Weight[t] = taps[t].Weight;
        }
        for (int o = 0; o < maps; o++) Start[o + 1] += Start[o];
    }

    /// <summary>
    /// A valid convolution out[o,y,x] = Σ_(i connected) Σ_(ky,kx) w[o,i,ky,kx]·in[i, y+ky, x+kx], weights
    /// [outMaps][inMaps][5][5], over flattened maps of one image (<see cref="SingleImage"/>): input map i is given as
    /// five planes, plane (i, kx) holding its rows shifted left by kx and cut to the output width, planeStride floats
    /// apart; output q = y·width + x then reads plane (i, kx) at q + ky·width.
    /// </summary>
    public static ConvolutionTaps Flat(int outMaps, int inMaps, int width, int planeStride, Func<int, int, bool> connected)
    {
        var taps = new List<(int, int, int)>();
        for (int o = 0; o < outMaps; o++)
            for (int i = 0; i < inMaps; i++)
            {
                if (!connected(o, i)) continue;
                for (int ky = 0; ky < KernelSize; ky++)
                    for (int kx = 0; kx < KernelSize; kx++)
                        taps.Add((o, (i * KernelSize + kx) * planeStride + ky * width,
                            (o * inMaps + i) * KernelSize * KernelSize + ky * KernelSize + kx));
            }
        return new ConvolutionTaps(taps, outMaps);
    }

    /// <summary>
    /// The same convolution on tiles (input maps inSize², <paramref name="lanes"/> floats an element) by kernel rows:
    /// entry t of map o reads input row (i, ky) at Offset[t] floats from the output row's anchor, with the five
    /// weights starting at Weight[t].
    /// </summary>
    public static ConvolutionTaps Rows(int outMaps, int inMaps, int inSize, Func<int, int, bool> connected, int lanes)
    {
        var taps = new List<(int, int, int)>();
        for (int o = 0; o < outMaps; o++)
            for (int i = 0; i < inMaps; i++)
            {
                if (!connected(o, i)) continue;
                for (int ky = 0; ky < KernelSize; ky++)
                    taps.Add((o, (i * inSize + ky) * inSize * lanes, (o * inMaps + i) * KernelSize * KernelSize + ky * KernelSize));
            }
        return new ConvolutionTaps(taps, outMaps);
    }

    public static readonly Func<int, int, bool> AllConnected = (_, _) => true;
    public static readonly Func<int, int, bool> TableI = ConnectionTable.IsConnected;
}

/// <summary>
/// 5×5 convolutions on tiles (layout in <see cref="TileLayout"/>; every element is one vector of L images).
/// <code>
/// ForwardRows:      out [maps][outH][outW] = bias + Σ kernel rows   (C1 1→6 32→28; C3 6→16 14→10, Table I)
/// C1ToS2, C3ToS4:   the same sums, added in pairs in registers into the subsampling layer's (inference, unsquashed)
/// InputGradientC3:  dIn [6][14][14] = full correlation of dOut [16][10][10] with C3's weights (Table I)
/// WeightGradient:   acc[ky][kx] += Σ_(y,x) dOut[y,x] · in[y+ky, x+kx]   (one (out, in) map pair; in² if squared)
/// </code>
/// Gradient rule (as on the device): activation gradients are assigned; parameter gradients accumulate (+=) into
/// per-lane sums that the engine folds over the lanes and over the tiles of a chunk in a fixed order.
/// </summary>
internal static unsafe partial class ConvolutionTiles
{
    /// <summary>
    /// out[o][y][x] = bias[o] + Σ over kernel rows (i, ky) of Σ_kx w[kx]·in[i, y+ky, x+kx], in strips of ten outputs
    /// (and two of nine where a row leaves eighteen): the strip's sums and the kernel row's five weights sit in
    /// registers (16 vectors, all AVX2 has) while the strip's inputs stream past, each loaded once for up to five
    /// multiply-adds. Ten independent sums cover the FMA latency on both pipes (five did not: rows of five reached
    /// 0.6 of the one-thread ceiling, ten reach 0.9; eight, each sum's five multiply-adds a kernel row taking as long
    /// as the strip's forty at two a cycle, left C1 at 0.85–0.86, nine and nine 0.87–0.88). Each output's terms are
    /// added in one fixed order: bias, then kernel rows in tap order, kx ascending; within an input's multiply-adds the
    /// oldest sum goes first (the one whose kernel row it completes: 1–1.5% faster than newest first, the same bits).
    /// Two shapes: C1 (1@32x32 → 6@28x28: strips of 10, 9 and 9) and C3 (6@14x14 → 16@10x10, Table I: one strip a
    /// row); <paramref name="rows"/> from <see cref="ConvolutionTaps.Rows"/>, inRow the input row length in elements.
    /// C1 also asks for <paramref name="prefetch"/>'s lines, a few a row (the next tile's images, which the engine stages
    /// after this tile: from L3 or memory a tile's 32 KB cost 2.3 µs to stage against 0.7 from L1).
    /// </summary>
    // Each shape in a method of its own, compiled once without the call profile (kernels.md), its strips inlined (a
    // call per ~150-cycle strip cost about 1%) and what a map's strips share read once a map: a generic loop over
    // shapes, with those values live across the strips, kept some on the stack and ran C1 5% slower.
    public static void ForwardRows<TS, TV>(float* input, int inRow, float* output, int outMaps, int outH, int outW,
        ConvolutionTaps rows, float* weights, float* bias, byte* prefetch = null, int prefetchBytes = 0) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        if (inRow == InputSize && outMaps == C1Maps && outH == C1Size && outW == C1Size)
            C1Rows<TS, TV, StoreSums>(input, rows, weights, bias, new StoreSums(output, C1Size, L), prefetch, prefetchBytes);
        else if (inRow == S2Size && outMaps == C3Maps && outH == C3Size && outW == C3Size)
            C3Rows<TS, TV, StoreSums>(input, rows, weights, bias, new StoreSums(output, C3Size, L));
        else
            throw new ArgumentException($"convolution rows are written for C1 (1@32x32 → 6@28x28) and C3 (6@14x14 → 16@10x10), not {outMaps}@{outH}x{outW} from rows of {inRow}");
    }

    /// <summary>
    /// C1 and S2 in one pass, for a forward pass that keeps no C1 and does not squash it: each C1 row's strips as in
    /// <see cref="ForwardRows"/>, their sums added in horizontal pairs while still in registers (<see cref="PairSums"/>)
    /// and, on odd rows, into S2's weighted sums c·(top pair + bottom pair) + b; each S2 map squashed once done.
    /// C1 is never written: S2's sums come from registers, not from C1's 150 KB. The same operations per output as
    /// C1 then <see cref="SubsamplingTiles.Forward"/>. Prefetches as <see cref="ForwardRows"/>.
    /// </summary>
    public static void C1ToS2<TS, TV>(float* input, ConvolutionTaps rows, float* weights, float* bias, float* s2Coefficient, float* s2Bias,
        Squashing squashing, float* s2, byte* prefetch, int prefetchBytes) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        float* carry = stackalloc float[L];
        C1Rows<TS, TV, PairSums>(input, rows, weights, bias, new PairSums(s2, S2Size, L, s2Coefficient, s2Bias, squashing, carry), prefetch, prefetchBytes);
    }

    /// <summary>
    /// C3 and S4 in one pass, as <see cref="C1ToS2"/> does C1 and S2: each C3 row's strip of 10 added in pairs in
    /// registers, on odd rows into S4's weighted sums; each S4 map squashed once done; C3 never written.
    /// </summary>
    public static void C3ToS4<TS, TV>(float* input, ConvolutionTaps rows, float* weights, float* bias, float* s4Coefficient, float* s4Bias,
        Squashing squashing, float* s4) where TS : struct, ISimd<TV> where TV : struct =>
        C3Rows<TS, TV, PairSums>(input, rows, weights, bias, new PairSums(s4, S4Size, TS.Lanes, s4Coefficient, s4Bias, squashing, null));

    /// <summary>
    /// C1's rows in strips of 10, 9 and 9, each strip's sums to <paramref name="end"/>; after each row, four cache
    /// lines of <paramref name="prefetch"/> (<paramref name="prefetchBytes"/> long; none when null) asked for.
    /// </summary>
    // A method of its own for each end (not inlined into a caller): its registers are allocated for C1's loops alone.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void C1Rows<TS, TV, TE>(float* input, ConvolutionTaps rows, float* weights, float* bias, TE end, byte* prefetch, int prefetchBytes)
        where TS : struct, ISimd<TV> where TV : struct where TE : struct, IStripEnd
    {
        int L = TS.Lanes;
        byte* prefetchEnd = prefetch + prefetchBytes;
        fixed (int* start = rows.Start, offsets = rows.Offset, weightIndex = rows.Weight)
            for (int o = 0; o < C1Maps; o++)
            {
                int first = start[o], taps = start[o + 1] - first;
                int* mapOffsets = offsets + first, mapWeights = weightIndex + first;
                float mapBias = bias[o];
                end.BeginMap(o);
                for (int y = 0; y < C1Size; y++)
                {
                    float* anchor = input + y * InputSize * L;
                    end.BeginRow(y);
                    Strip<TS, TV, Width10, TE>(anchor, end.At(0), mapOffsets, mapWeights, taps, weights, mapBias, ref end);
                    Strip<TS, TV, Width9, TE>(anchor + 10 * L, end.At(10), mapOffsets, mapWeights, taps, weights, mapBias, ref end);
                    Strip<TS, TV, Width9, TE>(anchor + 19 * L, end.At(19), mapOffsets, mapWeights, taps, weights, mapBias, ref end);
                    PrefetchRow(ref prefetch, prefetchEnd);
                }
                end.EndMap<TS, TV>();
            }
    }

    /// <summary>
    /// What C1 asks for after each of its rows: the next four cache lines of [prefetch, end), four a row (~450 cycles of
    /// multiply-adds) so that the misses never queue. A prefetch never faults: the last row's may reach up to 192 bytes
    /// past the images, harmlessly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRow(ref byte* prefetch, byte* end)
    {
        if (!Sse.IsSupported || prefetch >= end) return;
        Sse.Prefetch0(prefetch);
        Sse.Prefetch0(prefetch + 64);
        Sse.Prefetch0(prefetch + 128);
        Sse.Prefetch0(prefetch + 192);
        prefetch += 256;
    }

    /// <summary>C3's rows, one strip of 10 each, Table I's maps, each strip's sums to <paramref name="end"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void C3Rows<TS, TV, TE>(float* input, ConvolutionTaps rows, float* weights, float* bias, TE end)
        where TS : struct, ISimd<TV> where TV : struct where TE : struct, IStripEnd
    {
        int L = TS.Lanes;
        fixed (int* start = rows.Start, offsets = rows.Offset, weightIndex = rows.Weight)
            for (int o = 0; o < C3Maps; o++)
            {
                int first = start[o], taps = start[o + 1] - first;
                int* mapOffsets = offsets + first, mapWeights = weightIndex + first;
                float mapBias = bias[o];
                end.BeginMap(o);
                for (int y = 0; y < C3Size; y++)
                {
                    end.BeginRow(y);
                    Strip<TS, TV, Width10, TE>(input + y * S2Size * L, end.At(0), mapOffsets, mapWeights, taps, weights, mapBias, ref end);
                }
                end.EndMap<TS, TV>();
            }
    }

    /// <summary>One strip of <see cref="ForwardRows"/>: W (10 or 9) outputs from <paramref name="taps"/> kernel rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Strip<TS, TV, TW, TE>(float* anchor, float* d, int* offsets, int* weightIndex, int taps, float* weights, float bias, ref TE end)
        where TS : struct, ISimd<TV> where TV : struct where TW : struct, IRowWidth where TE : struct, IStripEnd
    {
        int L = TS.Lanes, W = TW.Value;
        TV b = TS.Broadcast(bias);
        TV a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b;
        for (int t = 0; t < taps; t++)
        {
            float* w = weights + weightIndex[t];
            TV w0 = TS.Broadcast(w[0]), w1 = TS.Broadcast(w[1]), w2 = TS.Broadcast(w[2]), w3 = TS.Broadcast(w[3]), w4 = TS.Broadcast(w[4]);
            float* r = anchor + offsets[t];
            TV v;
                v = TS.Load(r + 0 * L); a0 = TS.Fma(v, w0, a0);
                v = TS.Load(r + 1 * L); a0 = TS.Fma(v, w1, a0); a1 = TS.Fma(v, w0, a1);
                v = TS.Load(r + 2 * L); a0 = TS.Fma(v, w2, a0); a1 = TS.Fma(v, w1, a1); a2 = TS.Fma(v, w0, a2);
                v = TS.Load(r + 3 * L); a0 = TS.Fma(v, w3, a0); a1 = TS.Fma(v, w2, a1); a2 = TS.Fma(v, w1, a2); a3 = TS.Fma(v, w0, a3);
                v = TS.Load(r + 4 * L); a0 = TS.Fma(v, w4, a0); a1 = TS.Fma(v, w3, a1); a2 = TS.Fma(v, w2, a2); a3 = TS.Fma(v, w1, a3); a4 = TS.Fma(v, w0, a4);
                v = TS.Load(r + 5 * L); a1 = TS.Fma(v, w4, a1); a2 = TS.Fma(v, w3, a2); a3 = TS.Fma(v, w2, a3); a4 = TS.Fma(v, w1, a4); a5 = TS.Fma(v, w0, a5);
                v = TS.Load(r + 6 * L); a2 = TS.Fma(v, w4, a2); a3 = TS.Fma(v, w3, a3); a4 = TS.Fma(v, w2, a4); a5 = TS.Fma(v, w1, a5); a6 = TS.Fma(v, w0, a6);
                v = TS.Load(r + 7 * L); a3 = TS.Fma(v, w4, a3); a4 = TS.Fma(v, w3, a4); a5 = TS.Fma(v, w2, a5); a6 = TS.Fma(v, w1, a6); a7 = TS.Fma(v, w0, a7);
                v = TS.Load(r + 8 * L); a4 = TS.Fma(v, w4, a4); a5 = TS.Fma(v, w3, a5); a6 = TS.Fma(v, w2, a6); a7 = TS.Fma(v, w1, a7); if (W >= 9) { a8 = TS.Fma(v, w0, a8); }
                v = TS.Load(r + 9 * L); a5 = TS.Fma(v, w4, a5); a6 = TS.Fma(v, w3, a6); a7 = TS.Fma(v, w2, a7); if (W >= 9) { a8 = TS.Fma(v, w1, a8); } if (W == 10) { a9 = TS.Fma(v, w0, a9); }
                v = TS.Load(r + 10 * L); a6 = TS.Fma(v, w4, a6); a7 = TS.Fma(v, w3, a7); if (W >= 9) { a8 = TS.Fma(v, w2, a8); } if (W == 10) { a9 = TS.Fma(v, w1, a9); }
                v = TS.Load(r + 11 * L); a7 = TS.Fma(v, w4, a7); if (W >= 9) { a8 = TS.Fma(v, w3, a8); } if (W == 10) { a9 = TS.Fma(v, w2, a9); }
                if (W >= 9) { v = TS.Load(r + 12 * L); a8 = TS.Fma(v, w4, a8); if (W == 10) { a9 = TS.Fma(v, w3, a9); } }
                if (W == 10) { v = TS.Load(r + 13 * L); a9 = TS.Fma(v, w4, a9); }
        }
        end.End<TS, TV, TW>(d, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
    }

    /// <summary>
    /// C3's input gradient, 16@10x10 → 6@14x14 (a full correlation, the transpose of the forward convolution):
    /// dIn[i,Y,X] = Σ_(o connected to i) Σ_(ky,kx) w[o,i,ky,kx] · dOut[o, Y−ky, X−kx], terms inside the map only.
    /// One input row Y at a time in 14 accumulators; every (o, ky) that reaches row Y loads its output-gradient row
    /// (10 vectors) once and adds it under all five kx shifts: 50 multiply-adds per 10 loads and 5 broadcasts,
    /// and none on the border (a padded correlation would spend half its work on zeros).
    /// <paramref name="weights"/> is C3's [16][6][5][5] (squared in second-order mode); <paramref name="outputsOf"/>
    /// lists, per input map, the output maps it feeds (CSR: start[i] .. start[i+1]).
    /// </summary>
    public static void InputGradientC3<TS, TV>(float* dOut, float* weights, int[] start, int[] outputsOf, float* dIn)
        where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        // One input row of S2Size = 14 in 14 accumulators, one output row of C3Size = 10 in 10 loads.
        const int Taps = KernelSize * KernelSize;
        for (int i = 0; i < C1Maps; i++)
            for (int y = 0; y < S2Size; y++)
            {
                TV a0 = TS.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
                TV a10 = a0, a11 = a0, a12 = a0, a13 = a0;
                int kyLo = Math.Max(0, y - (C3Size - 1)), kyHi = Math.Min(KernelSize - 1, y);
                for (int c = start[i]; c < start[i + 1]; c++)
                {
                    int o = outputsOf[c];
                    for (int ky = kyLo; ky <= kyHi; ky++)
                    {
                        float* w = weights + (o * C1Maps + i) * Taps + ky * KernelSize;
                        float* d = dOut + (o * C3Size * C3Size + (y - ky) * C3Size) * L;
                        TV d0 = TS.Load(d), d1 = TS.Load(d + L), d2 = TS.Load(d + 2 * L), d3 = TS.Load(d + 3 * L), d4 = TS.Load(d + 4 * L);
                        TV d5 = TS.Load(d + 5 * L), d6 = TS.Load(d + 6 * L), d7 = TS.Load(d + 7 * L), d8 = TS.Load(d + 8 * L), d9 = TS.Load(d + 9 * L);
                        TV v = TS.Broadcast(w[0]);
                        a0 = TS.Fma(v, d0, a0); a1 = TS.Fma(v, d1, a1); a2 = TS.Fma(v, d2, a2); a3 = TS.Fma(v, d3, a3); a4 = TS.Fma(v, d4, a4);
                        a5 = TS.Fma(v, d5, a5); a6 = TS.Fma(v, d6, a6); a7 = TS.Fma(v, d7, a7); a8 = TS.Fma(v, d8, a8); a9 = TS.Fma(v, d9, a9);
                        v = TS.Broadcast(w[1]);
                        a1 = TS.Fma(v, d0, a1); a2 = TS.Fma(v, d1, a2); a3 = TS.Fma(v, d2, a3); a4 = TS.Fma(v, d3, a4); a5 = TS.Fma(v, d4, a5);
                        a6 = TS.Fma(v, d5, a6); a7 = TS.Fma(v, d6, a7); a8 = TS.Fma(v, d7, a8); a9 = TS.Fma(v, d8, a9); a10 = TS.Fma(v, d9, a10);
                        v = TS.Broadcast(w[2]);
                        a2 = TS.Fma(v, d0, a2); a3 = TS.Fma(v, d1, a3); a4 = TS.Fma(v, d2, a4); a5 = TS.Fma(v, d3, a5); a6 = TS.Fma(v, d4, a6);
                        a7 = TS.Fma(v, d5, a7); a8 = TS.Fma(v, d6, a8); a9 = TS.Fma(v, d7, a9); a10 = TS.Fma(v, d8, a10); a11 = TS.Fma(v, d9, a11);
                        v = TS.Broadcast(w[3]);
                        a3 = TS.Fma(v, d0, a3); a4 = TS.Fma(v, d1, a4); a5 = TS.Fma(v, d2, a5); a6 = TS.Fma(v, d3, a6); a7 = TS.Fma(v, d4, a7);
                        a8 = TS.Fma(v, d5, a8); a9 = TS.Fma(v, d6, a9); a10 = TS.Fma(v, d7, a10); a11 = TS.Fma(v, d8, a11); a12 = TS.Fma(v, d9, a12);
                        v = TS.Broadcast(w[4]);
                        a4 = TS.Fma(v, d0, a4); a5 = TS.Fma(v, d1, a5); a6 = TS.Fma(v, d2, a6); a7 = TS.Fma(v, d3, a7); a8 = TS.Fma(v, d4, a8);
                        a9 = TS.Fma(v, d5, a9); a10 = TS.Fma(v, d6, a10); a11 = TS.Fma(v, d7, a11); a12 = TS.Fma(v, d8, a12); a13 = TS.Fma(v, d9, a13);
                    }
                }
                float* g = dIn + (i * S2Size + y) * S2Size * L;
                TS.Store(g, a0); TS.Store(g + L, a1); TS.Store(g + 2 * L, a2); TS.Store(g + 3 * L, a3); TS.Store(g + 4 * L, a4);
                TS.Store(g + 5 * L, a5); TS.Store(g + 6 * L, a6); TS.Store(g + 7 * L, a7); TS.Store(g + 8 * L, a8); TS.Store(g + 9 * L, a9);
                TS.Store(g + 10 * L, a10); TS.Store(g + 11 * L, a11); TS.Store(g + 12 * L, a12); TS.Store(g + 13 * L, a13);
            }
    }

    /// <summary>
    /// For one (output map, input map) pair: acc[ky·5+kx] += Σ_(y,x) dOut[y,x] · in[y+ky, x+kx] (in² when
    /// <paramref name="squareInput"/>), per lane; acc holds 25 vectors, dOut rows are <paramref name="dRow"/> elements
    /// apart, input rows <paramref name="inRow"/>. Each of the 25 sums is one chain of dependent multiply-adds in
    /// row-major order of (y, x), so what keeps the FMA pipes busy is how many chains run side by side: two kernel
    /// rows at a time (ten accumulators; five, one row, left the pipes idle at the FMA latency and reached half the
    /// ceiling), the output row in strips of W (5 for C3's rows of 10, 4 for C1's rows of 28) whose gradients stay
    /// in registers while each row's W + 4 inputs stream past, each loaded once for up to five multiply-adds: ten
    /// sums, W gradients and the input fill AVX2's 16 registers. With <paramref name="biasAcc"/> it also adds every
    /// dOut[y,x] into that vector in row-major order (the map's bias gradient), the rows a kernel-row pair's pass
    /// reaches in order, in memory between strips: the chain of dependent adds then hides under the multiply-adds.
    /// </summary>
    public static void WeightGradient<TS, TV>(float* dOut, int dRow, int outH, int outW, float* input, int inRow,
        bool squareInput, float* acc, float* biasAcc = null) where TS : struct, ISimd<TV> where TV : struct
    {
        if (outW % 5 == 0)
        {
            if (squareInput) WeightGradient<TS, TV, Squared, Width5>(dOut, dRow, outH, outW, input, inRow, acc, biasAcc);
            else WeightGradient<TS, TV, AsIs, Width5>(dOut, dRow, outH, outW, input, inRow, acc, biasAcc);
        }
        else
        {
            if (outW % 4 != 0) throw new ArgumentException("rows must be a multiple of 5 or 4 outputs", nameof(outW));
            if (squareInput) WeightGradient<TS, TV, Squared, Width4>(dOut, dRow, outH, outW, input, inRow, acc, biasAcc);
            else WeightGradient<TS, TV, AsIs, Width4>(dOut, dRow, outH, outW, input, inRow, acc, biasAcc);
        }
    }

    private static void WeightGradient<TS, TV, TQ, TW>(float* dOut, int dRow, int outH, int outW, float* input, int inRow, float* acc,
        float* biasAcc) where TS : struct, ISimd<TV> where TV : struct where TQ : struct, IInputTransform where TW : struct, IRowWidth
    {
        int L = TS.Lanes, W = TW.Value;
        for (int ky = 0; ky < KernelSize; ky += 2)
        {
            bool two = ky + 1 < KernelSize;
            float* a = acc + ky * KernelSize * L, c = a + KernelSize * L;
            var s = KernelRowSums<TS, TV>.Load(a);
            var t = two ? KernelRowSums<TS, TV>.Load(c) : default;
            // The rows whose pixels this pass adds into the bias sum: every row once, in order, over the passes.
            int biasFrom = biasAcc != null ? ky * outH / KernelSize : outH, biasTo = biasAcc != null ? (two ? ky + 2 : ky + 1) * outH / KernelSize : outH;
            for (int y = 0; y < outH; y++)
            {
                float* dr = dOut + y * dRow * L;
                float* ir = input + (y + ky) * inRow * L;
                bool bias = y >= biasFrom && y < biasTo;
                for (int x0 = 0; x0 < outW; x0 += W)
                {
                    float* d = dr + x0 * L;
                    TV d0 = TS.Load(d), d1 = TS.Load(d + L), d2 = TS.Load(d + 2 * L), d3 = TS.Load(d + 3 * L);
                    TV d4 = W == 5 ? TS.Load(d + 4 * L) : TS.Zero;
                    if (bias)
                    {
                        TV b = TS.Add(TS.Add(TS.Add(TS.Add(TS.Load(biasAcc), d0), d1), d2), d3);
                        if (W == 5) b = TS.Add(b, d4);
                        TS.Store(biasAcc, b);
                    }
                    s = s.Add<TQ, TW>(ir + x0 * L, d0, d1, d2, d3, d4);
                    if (two) t = t.Add<TQ, TW>(ir + (inRow + x0) * L, d0, d1, d2, d3, d4);
                }
            }
            s.Store(a);
            if (two) t.Store(c);
        }
    }
}

/// <summary>
/// One kernel row's five weight-gradient sums s[kx] (<c>ConvolutionTiles.WeightGradient</c>), passed by value so
/// that the JIT keeps them in registers (through <c>ref</c> parameters it kept them on the stack).
/// </summary>
internal readonly struct KernelRowSums<TS, TV>(TV s0, TV s1, TV s2, TV s3, TV s4) where TS : struct, ISimd<TV> where TV : struct
{
    private readonly TV s0 = s0, s1 = s1, s2 = s2, s3 = s3, s4 = s4;

    public static unsafe KernelRowSums<TS, TV> Load(float* a) =>
        new(TS.Load(a), TS.Load(a + TS.Lanes), TS.Load(a + 2 * TS.Lanes), TS.Load(a + 3 * TS.Lanes), TS.Load(a + 4 * TS.Lanes));

    public unsafe void Store(float* a)
    {
        int L = TS.Lanes;
        TS.Store(a, s0); TS.Store(a + L, s1); TS.Store(a + 2 * L, s2); TS.Store(a + 3 * L, s3); TS.Store(a + 4 * L, s4);
    }

    /// <summary>s[kx] + Σ_j d[j]·in[j + kx] over a strip of W (4 or 5) gradients, j ascending; in from q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe KernelRowSums<TS, TV> Add<TQ, TW>(float* q, TV d0, TV d1, TV d2, TV d3, TV d4)
        where TQ : struct, IInputTransform where TW : struct, IRowWidth
    {
        int L = TS.Lanes, W = TW.Value;
        TV a0 = s0, a1 = s1, a2 = s2, a3 = s3, a4 = s4, v;
        v = TQ.Apply<TS, TV>(TS.Load(q)); a0 = TS.Fma(d0, v, a0);
        v = TQ.Apply<TS, TV>(TS.Load(q + 1 * L)); a0 = TS.Fma(d1, v, a0); a1 = TS.Fma(d0, v, a1);
        v = TQ.Apply<TS, TV>(TS.Load(q + 2 * L)); a0 = TS.Fma(d2, v, a0); a1 = TS.Fma(d1, v, a1); a2 = TS.Fma(d0, v, a2);
        v = TQ.Apply<TS, TV>(TS.Load(q + 3 * L)); a0 = TS.Fma(d3, v, a0); a1 = TS.Fma(d2, v, a1); a2 = TS.Fma(d1, v, a2); a3 = TS.Fma(d0, v, a3);
        v = TQ.Apply<TS, TV>(TS.Load(q + 4 * L)); if (W == 5) { a0 = TS.Fma(d4, v, a0); } a1 = TS.Fma(d3, v, a1); a2 = TS.Fma(d2, v, a2); a3 = TS.Fma(d1, v, a3); a4 = TS.Fma(d0, v, a4);
        v = TQ.Apply<TS, TV>(TS.Load(q + 5 * L)); if (W == 5) { a1 = TS.Fma(d4, v, a1); } a2 = TS.Fma(d3, v, a2); a3 = TS.Fma(d2, v, a3); a4 = TS.Fma(d1, v, a4);
        v = TQ.Apply<TS, TV>(TS.Load(q + 6 * L)); if (W == 5) { a2 = TS.Fma(d4, v, a2); } a3 = TS.Fma(d3, v, a3); a4 = TS.Fma(d2, v, a4);
        v = TQ.Apply<TS, TV>(TS.Load(q + 7 * L)); if (W == 5) { a3 = TS.Fma(d4, v, a3); } a4 = TS.Fma(d3, v, a4);
        if (W == 5) { v = TQ.Apply<TS, TV>(TS.Load(q + 8 * L)); a4 = TS.Fma(d4, v, a4); }
        return new(a0, a1, a2, a3, a4);
    }
}
/// <summary>What a gradient kernel does to an input before multiplying: nothing, or square it (second-order mode).</summary>
internal interface IInputTransform
{
    static abstract TV Apply<TS, TV>(TV v) where TS : struct, ISimd<TV> where TV : struct;
}

internal struct AsIs : IInputTransform
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV>(TV v) where TS : struct, ISimd<TV> where TV : struct => v;
}

internal struct Squared : IInputTransform
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV>(TV v) where TS : struct, ISimd<TV> where TV : struct => TS.Multiply(v, v);
}

/// <summary>
/// Where a convolution's row strips put their sums, and what is done with them: the row loops call
/// <see cref="BeginMap"/> for each output map, <see cref="BeginRow"/> for each of its rows, <see cref="At"/> for the
/// destination of the strip starting at output column x, <see cref="End"/> with the strip's W sums (W = TW's value)
/// once its multiply-adds are done, and <see cref="EndMap"/> after the map's last row.
/// </summary>
internal unsafe interface IStripEnd
{
    void BeginMap(int o);
    void BeginRow(int y);
    float* At(int x);
    void End<TS, TV, TW>(float* d, TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, TV a8, TV a9)
        where TS : struct, ISimd<TV> where TV : struct where TW : struct, IRowWidth;
    void EndMap<TS, TV>() where TS : struct, ISimd<TV> where TV : struct;
}

/// <summary>
/// Writes the strip's W sums to d, d + L, …: the layer's outputs, maps of size × size at <paramref name="output"/>
/// (L floats an element).
/// </summary>
internal unsafe struct StoreSums(float* output, int size, int lanes) : IStripEnd
{
    private float* map, row;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginMap(int o) => map = output + (long)o * size * size * lanes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginRow(int y) => row = map + (long)y * size * lanes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly float* At(int x) => row + x * lanes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void EndMap<TS, TV>() where TS : struct, ISimd<TV> where TV : struct { }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void End<TS, TV, TW>(float* d, TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, TV a8, TV a9)
        where TS : struct, ISimd<TV> where TV : struct where TW : struct, IRowWidth
    {
        int L = TS.Lanes, W = TW.Value;
        TS.Store(d, a0); TS.Store(d + L, a1); TS.Store(d + 2 * L, a2); TS.Store(d + 3 * L, a3);
        TS.Store(d + 4 * L, a4); TS.Store(d + 5 * L, a5); TS.Store(d + 6 * L, a6); TS.Store(d + 7 * L, a7);
        if (W >= 9) TS.Store(d + 8 * L, a8);
        if (W == 10) TS.Store(d + 9 * L, a9);
    }
}

/// <summary>
/// A convolution's strip sums added in horizontal pairs (x even first) as the subsampling layer adds them, into maps of
/// size × size (L floats an element) at <paramref name="output"/>: on a top row (even y) each pair is stored at
/// d, d + L, …; on a bottom row the top pair there is added first, then c·sum + b stored with the map's coefficient
/// and bias; each map squashed once its last row is in. C1's rows go in strips at x = 0, 10 and 19: the strip at 10
/// keeps its last sum (x = 18) in <paramref name="carry"/> (L floats) for the next strip's first.
/// </summary>
internal unsafe struct PairSums(float* output, int size, int lanes, float* coefficients, float* biases, Squashing squashing, float* carry) : IStripEnd
{
    private float* map, row;
    private float coefficient, bias;
    private bool bottom;
    private int position; // the strip's: 0 (x = 0), 1 (x = 10), 2 (x = 19)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginMap(int o)
    {
        map = output + (long)o * size * size * lanes;
        coefficient = coefficients[o];
        bias = biases[o];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeginRow(int y)
    {
        row = map + (long)(y >> 1) * size * lanes;
        bottom = (y & 1) == 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* At(int x)
    {
        position = x == 0 ? 0 : x <= 10 ? 1 : 2;
        return row + (x >> 1) * lanes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void EndMap<TS, TV>() where TS : struct, ISimd<TV> where TV : struct =>
        VectorMath.SquashInPlace<TS, TV>(map, size * size, squashing);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void End<TS, TV, TW>(float* d, TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, TV a8, TV a9)
        where TS : struct, ISimd<TV> where TV : struct where TW : struct, IRowWidth
    {
        if (position == 0)
        {
            Put<TS, TV>(d, TS.Add(a0, a1), TS.Add(a2, a3), TS.Add(a4, a5), TS.Add(a6, a7), TS.Add(a8, a9), 5);
        }
        else if (position == 1)
        {
            TS.Store(carry, a8);
            Put<TS, TV>(d, TS.Add(a0, a1), TS.Add(a2, a3), TS.Add(a4, a5), TS.Add(a6, a7), default, 4);
        }
        else
        {
            Put<TS, TV>(d, TS.Add(TS.Load(carry), a0), TS.Add(a1, a2), TS.Add(a3, a4), TS.Add(a5, a6), TS.Add(a7, a8), 5);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Put<TS, TV>(float* d, TV p0, TV p1, TV p2, TV p3, TV p4, int count) where TS : struct, ISimd<TV> where TV : struct
    {
        int L = TS.Lanes;
        if (!bottom)
        {
            TS.Store(d, p0); TS.Store(d + L, p1); TS.Store(d + 2 * L, p2); TS.Store(d + 3 * L, p3);
            if (count == 5) TS.Store(d + 4 * L, p4);
            return;
        }
        TV c = TS.Broadcast(coefficient), b = TS.Broadcast(bias);
        TS.Store(d, TS.Fma(c, TS.Add(TS.Load(d), p0), b));
        TS.Store(d + L, TS.Fma(c, TS.Add(TS.Load(d + L), p1), b));
        TS.Store(d + 2 * L, TS.Fma(c, TS.Add(TS.Load(d + 2 * L), p2), b));
        TS.Store(d + 3 * L, TS.Fma(c, TS.Add(TS.Load(d + 3 * L), p3), b));
        if (count == 5) TS.Store(d + 4 * L, TS.Fma(c, TS.Add(TS.Load(d + 4 * L), p4), b));
    }
}

using static LeNet.Gpu.Cpu.BackwardWorkspace;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>Where a <see cref="BackwardWorkspace{TS, TV}"/> keeps what: padded rows and the per-lane accumulators' offsets.</summary>
internal static class BackwardWorkspace
{
    /// <summary>Weights of one 5×5 kernel.</summary>
    public const int Taps = KernelSize * KernelSize;

    public const int OutputRows = (Classes + 3) & ~3;     // OUTPUT's 10 rows padded to a multiple of 4: 12
    // Image-major rows, padded to 16: 96, 128, 400.
    public const int F6Columns = (F6Units + 15) & ~15, C5Columns = (C5Units + 15) & ~15;
    public static readonly int S4Columns = (LengthOf(Layer.S4) + 15) & ~15;

    // Offsets (in vectors) of the per-lane accumulators: 0, 150, 156, 162, 168, 1668, …
    // C3's weights by connection: pair k of C3Connections.Pairs (Table I's 60 connections) at AccC3Weight + 25·k.
    public const int AccC1Weight = 0, AccC1Bias = AccC1Weight + C1Maps * Taps, AccS2Coefficient = AccC1Bias + C1Maps,
        AccS2Bias = AccS2Coefficient + C1Maps, AccC3Weight = AccS2Bias + C1Maps, AccC3Bias = AccC3Weight + C3Connections.Count * Taps,
        AccS4Coefficient = AccC3Bias + C3Maps, AccS4Bias = AccS4Coefficient + C3Maps, AccC5Bias = AccS4Bias + C3Maps,
        AccF6Bias = AccC5Bias + C5Units, AccOutputBias = AccF6Bias + F6Units, AccVectors = AccOutputBias + Classes;
}

/// <summary>
/// One worker's backward buffers: activation gradients of one tile below C5 and the image-major copies and float rows
/// the dense weight gradients use (F6's and OUTPUT's rows summed over a chunk's images, in image order).
/// </summary>
internal sealed unsafe class BackwardWorkspace<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;

    /// <summary>Tiles per 16-image group: 1, 2 or 4.</summary>
    public static readonly int GroupTiles = CanonicalSum.Lanes / L;

    /// <summary>Floats of one chunk's per-lane accumulators: 16 lanes whatever the width.</summary>
    public const int ChunkLaneFloats = AccVectors * CanonicalSum.Lanes;

    /// <summary>Floats of one tile's saved gradients: dLogits, dF6, dC5 (after the squashing), which the dense weight gradients read.</summary>
    public static readonly int TileDeltaFloats = (OutputRows + LengthOf(Layer.F6) + LengthOf(Layer.C5)) * L;

    // DS4B: the second tile's S4 gradient when two go back together.
    public readonly PinnedBuffer<float> DS4 = new(LengthOf(Layer.S4, L)), DS4B = new(LengthOf(Layer.S4, L)), DC3 = new(LengthOf(Layer.C3, L)), DS2 = new(LengthOf(Layer.S2, L)),
        DC1 = new(LengthOf(Layer.C1, L));
    /// <summary>Tiles whose dense weight gradients are formed in one pass: 32 images (each gradient block read and written once for them).</summary>
    public static readonly int DenseTiles = Math.Max(1, 32 / L);

    // Image-major copies of DenseTiles tiles' F6, C5 and S4 outputs, one tile after another.
    public readonly PinnedBuffer<float> F6T = new(DenseTiles * L * F6Columns), C5T = new(DenseTiles * L * C5Columns), S4T = new(DenseTiles * L * S4Columns);
    // Dense weight gradients whose rows are not whole vectors, in padded rows (C5's go straight to the chunk sums).
    public readonly PinnedBuffer<float> OutputWeight = new(OutputRows * F6Columns), F6Weight = new(F6Units * C5Columns);

    /// <summary>
    /// Lane set <paramref name="set"/> of a chunk's per-lane accumulators (<paramref name="lanes"/>: ChunkLaneFloats).
    /// The 16 lanes are one per image of a 16-image group (a 512-bit tile); narrower tiles take turns, tile t of a chunk
    /// adding into set t % <see cref="GroupTiles"/>, so that every lane sums the same images in the same order at every
    /// width, and the lanes are added in <see cref="CanonicalSum"/>'s order.
    /// </summary>
    public static float* LaneSet(float* lanes, int set) => lanes + (long)set * AccVectors * L;

    /// <summary>The chunk's gradient sums in the flat parameter layout; masked C3 weights (and fixed RBF centres) exactly 0.</summary>
    public void WriteSums(float* lanes, float* g, bool rbf)
    {
        float* acc = lanes;
        FoldLanes(acc + AccC1Weight * L, C1Maps * Taps, g + P.C1Weight.Offset);
        FoldLanes(acc + AccC1Bias * L, C1Maps, g + P.C1Bias.Offset);
        FoldLanes(acc + AccS2Coefficient * L, C1Maps, g + P.S2Coefficient.Offset);
        FoldLanes(acc + AccS2Bias * L, C1Maps, g + P.S2Bias.Offset);
        new Span<float>(g + P.C3Weight.Offset, P.C3Weight.Length).Clear();
        for (int k = 0; k < C3Connections.Pairs.Length; k++)
            FoldLanes(acc + (AccC3Weight + k * Taps) * L, Taps,
                g + P.C3Weight.Offset + (C3Connections.Pairs[k].Output * C1Maps + C3Connections.Pairs[k].Input) * Taps);
        FoldLanes(acc + AccC3Bias * L, C3Maps, g + P.C3Bias.Offset);
        FoldLanes(acc + AccS4Coefficient * L, C3Maps, g + P.S4Coefficient.Offset);
        FoldLanes(acc + AccS4Bias * L, C3Maps, g + P.S4Bias.Offset);
        FoldLanes(acc + AccC5Bias * L, C5Units, g + P.C5Bias.Offset);
        FoldLanes(acc + AccF6Bias * L, F6Units, g + P.F6Bias.Offset);
        FoldLanes(acc + AccOutputBias * L, Classes, g + P.OutputBias.Offset);
        CopyRows(F6Weight.Pointer, F6Units, C5Columns, C5Units, g + P.F6Weight.Offset);
        CopyRows(OutputWeight.Pointer, Classes, F6Columns, F6Units, g + P.OutputWeight.Offset);
        if (rbf) new Span<float>(g + P.OutputWeight.Offset, P.OutputWeight.Length + P.OutputBias.Length).Clear();
    }

    private static void FoldLanes(float* vectors, int count, float* destination)
    {
        for (int k = 0; k < count; k++) destination[k] = CanonicalSum.Of<TS, TV>(vectors + k * L, AccVectors * L);
    }

    private static void CopyRows(float* source, int rows, int stride, int columns, float* destination)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(source + r * stride, columns).CopyTo(new Span<float>(destination + r * columns, columns));
    }
}

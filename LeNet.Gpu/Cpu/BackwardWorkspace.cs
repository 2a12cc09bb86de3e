using static LeNet.Gpu.Cpu.BackwardWorkspace;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>Where a <see cref="BackwardWorkspace{TS, TV}"/> keeps what: padded rows and the per-lane accumulators' offsets.</summary>
internal static class BackwardWorkspace
{
    public const int OutputRows = 12;                     // OUTPUT's 10 rows padded to a multiple of 4
    public const int F6Columns = 96, C5Columns = 128, S4Columns = 400; // image-major rows, padded to 16

    // Offsets (in vectors) of the per-lane accumulators.
    // C3's weights by connection: pair k of C3Connections.Pairs (Table I's 60 connections) at AccC3Weight + 25·k.
    public const int AccC1Weight = 0, AccC1Bias = 150, AccS2Coefficient = 156, AccS2Bias = 162,
        AccC3Weight = 168, AccC3Bias = AccC3Weight + 60 * 25, AccS4Coefficient = AccC3Bias + 16, AccS4Bias = AccS4Coefficient + 16,
        AccC5Bias = AccS4Bias + 16, AccF6Bias = AccC5Bias + 120, AccOutputBias = AccF6Bias + 84, AccVectors = AccOutputBias + 10;
}

/// <summary>
/// One worker's backward buffers: activation gradients of one tile, the image-major copies the dense weight
/// gradients read, and the chunk's parameter-gradient accumulators — per-lane vectors for the small tensors
/// (summed over lanes once per chunk), float rows for F6's and OUTPUT's weights (already summed over images).
/// </summary>
internal sealed unsafe class BackwardWorkspace<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    private static readonly int L = TS.Lanes;

    public readonly PinnedBuffer<float> DLogits = new(OutputRows * L), DF6 = new(84 * L), DC5 = new(120 * L),
        DS4 = new(400 * L), DC3 = new(TileLayout.C3 * L), DS2 = new(TileLayout.S2 * L), DC1 = new(TileLayout.C1 * L);
    public readonly PinnedBuffer<float> F6T = new(L * F6Columns), C5T = new(L * C5Columns), S4T = new(L * S4Columns);
    // Dense weight gradients whose rows are not whole vectors, in padded rows (C5's go straight to the chunk sums).
    public readonly PinnedBuffer<float> OutputWeight = new(OutputRows * F6Columns), F6Weight = new(84 * C5Columns);
    public readonly PinnedBuffer<float> Lanes = new(AccVectors * L);

    public void Reset()
    {
        Lanes.Clear();
    }

    /// <summary>The chunk's gradient sums in the flat parameter layout; masked C3 weights (and fixed RBF centres) exactly 0.</summary>
    public void WriteSums(float* g, bool rbf)
    {
        float* acc = Lanes.Pointer;
        FoldLanes(acc + AccC1Weight * L, 150, g + P.C1Weight.Offset);
        FoldLanes(acc + AccC1Bias * L, 6, g + P.C1Bias.Offset);
        FoldLanes(acc + AccS2Coefficient * L, 6, g + P.S2Coefficient.Offset);
        FoldLanes(acc + AccS2Bias * L, 6, g + P.S2Bias.Offset);
        new Span<float>(g + P.C3Weight.Offset, P.C3Weight.Length).Clear();
        for (int k = 0; k < C3Connections.Pairs.Length; k++)
            FoldLanes(acc + (AccC3Weight + k * 25) * L, 25, g + P.C3Weight.Offset + (C3Connections.Pairs[k].Output * 6 + C3Connections.Pairs[k].Input) * 25);
        FoldLanes(acc + AccC3Bias * L, 16, g + P.C3Bias.Offset);
        FoldLanes(acc + AccS4Coefficient * L, 16, g + P.S4Coefficient.Offset);
        FoldLanes(acc + AccS4Bias * L, 16, g + P.S4Bias.Offset);
        FoldLanes(acc + AccC5Bias * L, 120, g + P.C5Bias.Offset);
        FoldLanes(acc + AccF6Bias * L, 84, g + P.F6Bias.Offset);
        FoldLanes(acc + AccOutputBias * L, 10, g + P.OutputBias.Offset);
        CopyRows(F6Weight.Pointer, 84, C5Columns, 120, g + P.F6Weight.Offset);
        CopyRows(OutputWeight.Pointer, 10, F6Columns, 84, g + P.OutputWeight.Offset);
        if (rbf) new Span<float>(g + P.OutputWeight.Offset, P.OutputWeight.Length + P.OutputBias.Length).Clear();
    }

    private static void FoldLanes(float* vectors, int count, float* destination)
    {
        for (int k = 0; k < count; k++) destination[k] = TS.Sum(TS.Load(vectors + k * L));
    }

    private static void CopyRows(float* source, int rows, int stride, int columns, float* destination)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(source + r * stride, columns).CopyTo(new Span<float>(destination + r * columns, columns));
    }
}

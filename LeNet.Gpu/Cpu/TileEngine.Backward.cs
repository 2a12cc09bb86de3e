using LeNet.Gpu.Model;
using static LeNet.Gpu.Cpu.BackwardWorkspace;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The batch engine's backward pass: the batch's tiles in chunks of a fixed number of tiles, each chunk run by one
/// worker into its own <see cref="BackwardWorkspace{TS, TV}"/> and written to <see cref="ChunkSums{TS, TV}"/>, which
/// adds the chunks in order. Chunks are cut in groups of 16 images (one 512-bit tile, 2 of 256 bits, 4 of 128), set
/// by the batch size alone, so that every width sums the same images in the same order.
/// </summary>
internal sealed unsafe partial class TileEngine<TS, TV>
{
    private readonly BackwardWorkspace<TS, TV>[] workspaces;
    private readonly ChunkSums<TS, TV> chunkSums;

    // Backward: the squared parameters, which input gradients use in second-order mode.
    private readonly PinnedBuffer<float> squaredWeights;

    // The batch in flight (set by Backward, read by the workers).
    private float* weightsForInput;
    private int* labels;
    private float mapJ;
    private int backwardCount, chunkTiles;
    private bool secondOrder;
    private readonly Action<int, int> backwardChunk;

    public void Backward(float* parameters, Squashing squashing, int* labels, int count, float* gradients, bool secondOrder, float mapJ,
        out double lossSum, out int correct)
    {
        this.parameters = parameters;
        this.squashing = squashing;
        this.mapJ = mapJ;
        this.labels = labels;
        this.secondOrder = secondOrder;
        backwardCount = count;
        if (looseTile >= 0 && looseTile * L < count) TileLooseImages();
        PrepareWeights();

        int groups = (count + CanonicalSum.Lanes - 1) / CanonicalSum.Lanes;
        int chunkGroups = (groups + MaxChunks - 1) / MaxChunks;
        chunkTiles = chunkGroups * BackwardWorkspace<TS, TV>.GroupTiles;
        int chunks = (groups + chunkGroups - 1) / chunkGroups;
        pool.Run(chunks, backwardChunk);
        chunkSums.Reduce(chunks, gradients, out lossSum, out correct);
        this.labels = null;
    }

    /// <summary>
    /// The weights input gradients multiply by: the parameters themselves, or their squares in second-order mode
    /// (the Gauss–Newton diagonal propagates through w²).
    /// </summary>
    private void PrepareWeights()
    {
        if (!secondOrder)
        {
            weightsForInput = parameters;
            return;
        }
        float* w = squaredWeights.Pointer;
        for (int k = 0; k < P.Length; k++) w[k] = parameters[k] * parameters[k];
        weightsForInput = w;
    }

    private void BackwardChunk(int worker, int chunk)
    {
        var s = workspaces[worker];
        s.Reset();
        float* sums = chunkSums.Gradients(chunk);
        double loss = 0;
        int correct = 0;
        int first = chunk * chunkTiles, end = Math.Min(first + chunkTiles, TilesFor(backwardCount));
        for (int tile = first; tile < end; tile++)
            BackwardTile(s, tile, tile == first, sums, ref loss, ref correct);
        s.WriteSums(sums, output == OutputLayer.Rbf);
        chunkSums.SetScore(chunk, loss, correct);
    }

    /// <param name="first">The chunk's first tile: the dense weight gradients are assigned, not added.</param>
    /// <param name="sums">The chunk's sums, flat layout: C5's weight gradient accumulates there directly.</param>
    private void BackwardTile(BackwardWorkspace<TS, TV> s, int tile, bool first, float* sums, ref double loss, ref int correct)
    {
        int valid = Math.Min(L, backwardCount - tile * L);
        bool so = secondOrder;
        var sq = squashing;
        float* w = weightsForInput;
        float* x = TileOf(Layer.Input, tile), a1 = TileOf(Layer.C1, tile), a2 = TileOf(Layer.S2, tile), a3 = TileOf(Layer.C3, tile);
        float* a4 = TileOf(Layer.S4, tile), a5 = TileOf(Layer.C5, tile), a6 = TileOf(Layer.F6, tile);
        float* acc = s.LaneSet(tile);

        if (output == OutputLayer.Rbf)
        {
            // OUTPUT: RBF units and the MAP loss; fixed centres, so only F6's gradient.
            RbfTiles.Backward(L, valid, backwardCount, so, mapJ, TileOf(Layer.Output, tile), a6,
                parameters + P.OutputWeight.Offset, predictions.Pointer + (long)tile * L, labels + tile * L, s.DF6.Pointer, ref loss, ref correct);
        }
        else
        {
            SoftmaxTiles.Backward(L, valid, backwardCount, so, probabilities.Pointer + (long)tile * L * SoftmaxTiles.Classes,
                predictions.Pointer + (long)tile * L, labels + tile * L, s.DLogits.Pointer, ref loss, ref correct);

            // OUTPUT 84 → 10 (identity)
            FullyConnectedTiles.Transpose<TS, TV>(a6, F6Units, so, s.F6T.Pointer, F6Columns);
            FullyConnectedTiles.WeightGradient<TS, TV>(s.DLogits.Pointer, OutputRows, s.F6T.Pointer, F6Columns, s.OutputWeight.Pointer, !first);
            FullyConnectedTiles.Accumulate<TS, TV>(s.DLogits.Pointer, Classes, acc + AccOutputBias * L);
            FullyConnectedTiles.InputGradient<TS, TV>(s.DLogits.Pointer, Classes, w + P.OutputWeight.Offset, F6Units, s.DF6.Pointer);
        }

        // F6 120 → 84 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DF6.Pointer, a6, F6Units, sq, so);
        FullyConnectedTiles.Transpose<TS, TV>(a5, C5Units, so, s.C5T.Pointer, C5Columns);
        FullyConnectedTiles.WeightGradient<TS, TV>(s.DF6.Pointer, F6Units, s.C5T.Pointer, C5Columns, s.F6Weight.Pointer, !first);
        FullyConnectedTiles.Accumulate<TS, TV>(s.DF6.Pointer, F6Units, acc + AccF6Bias * L);
        FullyConnectedTiles.InputGradient<TS, TV>(s.DF6.Pointer, F6Units, w + P.F6Weight.Offset, C5Units, s.DC5.Pointer);

        // C5 16@5x5 → 120 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DC5.Pointer, a5, C5Units, sq, so);
        FullyConnectedTiles.Transpose<TS, TV>(a4, TileLayout.S4, so, s.S4T.Pointer, S4Columns);
        FullyConnectedTiles.WeightGradient<TS, TV>(s.DC5.Pointer, C5Units, s.S4T.Pointer, S4Columns, sums + P.C5Weight.Offset, !first);
        FullyConnectedTiles.Accumulate<TS, TV>(s.DC5.Pointer, C5Units, acc + AccC5Bias * L);
        FullyConnectedTiles.InputGradient<TS, TV>(s.DC5.Pointer, C5Units, w + P.C5Weight.Offset, TileLayout.S4, s.DS4.Pointer);

        // S4 16@10x10 → 16@5x5 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DS4.Pointer, a4, TileLayout.S4, sq, so);
        float* dC3 = s.DC3.Pointer;
        SubsamplingTiles.Backward<TS, TV>(s.DS4.Pointer, a3, C3Maps, S4Size, w + P.S4Coefficient.Offset, so,
            acc + AccS4Coefficient * L, acc + AccS4Bias * L, dC3, C3Size, TileLayout.C3Map);

        // C3 6@14x14 → 16@10x10 (Table I; identity, or squashed)
        if (convolution != Activation.Identity) FullyConnectedTiles.SquashBackward<TS, TV>(dC3, a3, TileLayout.C3, sq, so);
        for (int k = 0; k < C3Connections.Pairs.Length; k++)
            ConvolutionTiles.WeightGradient<TS, TV>(dC3 + C3Connections.Pairs[k].Output * TileLayout.C3Map * L, C3Size, C3Size, C3Size,
                a2 + C3Connections.Pairs[k].Input * TileLayout.S2Map * L, S2Size, so, acc + (AccC3Weight + k * Taps) * L);
        for (int o = 0; o < C3Maps; o++)
            ConvolutionTiles.SumPixels<TS, TV>(dC3 + o * TileLayout.C3Map * L, C3Size, C3Size, C3Size, acc + (AccC3Bias + o) * L);
        ConvolutionTiles.InputGradientC3<TS, TV>(dC3, w + P.C3Weight.Offset, C3Connections.OutputsOf.Start, C3Connections.OutputsOf.Outputs, s.DS2.Pointer);

        // S2 6@28x28 → 6@14x14 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DS2.Pointer, a2, TileLayout.S2, sq, so);
        SubsamplingTiles.Backward<TS, TV>(s.DS2.Pointer, a1, C1Maps, S2Size, w + P.S2Coefficient.Offset, so,
            acc + AccS2Coefficient * L, acc + AccS2Bias * L, s.DC1.Pointer, C1Size, TileLayout.C1Map);

        // C1 1@32x32 → 6@28x28 (identity, or squashed); the input needs no gradient.
        if (convolution != Activation.Identity) FullyConnectedTiles.SquashBackward<TS, TV>(s.DC1.Pointer, a1, TileLayout.C1, sq, so);
        for (int o = 0; o < C1Maps; o++)
        {
            float* dOut = s.DC1.Pointer + o * TileLayout.C1Map * L;
            ConvolutionTiles.WeightGradient<TS, TV>(dOut, C1Size, C1Size, C1Size, x, InputSize, so, acc + (AccC1Weight + o * Taps) * L);
            ConvolutionTiles.SumPixels<TS, TV>(dOut, C1Size, C1Size, C1Size, acc + (AccC1Bias + o) * L);
        }
    }
}

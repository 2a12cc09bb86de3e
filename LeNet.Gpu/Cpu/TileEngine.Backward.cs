using LeNet.Gpu.Model;
using static LeNet.Gpu.Cpu.BackwardWorkspace;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The batch engine's backward pass. The batch is cut into chunks of whole 16-image groups (one 512-bit tile, 2 of 256
/// bits, 4 of 128), set by the batch size alone, so that every width sums the same images in the same order:
/// <code>
/// lane sets    per chunk and set g: its tiles t ≡ g (mod tiles per group) in order, back from the loss, adding into the
///              chunk's lane set g (per-lane accumulators of the small tensors) and saving each tile's dLogits, dF6 and
///              dC5 and its images' losses;
/// dense        per chunk: OUTPUT's, F6's and C5's weight gradients over the chunk's tiles in image order, the lanes
///              folded (<see cref="CanonicalSum"/>), the sums written to <see cref="ChunkSums{TS, TV}"/>, which adds the
///              chunks in order.
/// </code>
/// With as many chunks as workers each chunk is one work item (its lane sets, then its dense part); with fewer, the
/// lane sets of narrow tiles run as items of their own first, then the dense parts: the same sums either way.
/// </summary>
internal sealed unsafe partial class TileEngine<TS, TV>
{
    private static readonly int GroupTiles = BackwardWorkspace<TS, TV>.GroupTiles;

    private readonly BackwardWorkspace<TS, TV>[] workspaces;
    private readonly ChunkSums<TS, TV> chunkSums;

    // Per chunk: its lane sets. Per tile: its saved gradients. Per image: its loss. Per tile: its hits.
    private readonly PinnedBuffer<float> chunkLanes, tileDeltas;
    private readonly PinnedBuffer<double> imageLosses;
    private readonly int[] tileCorrect;

    // Backward: the squared parameters, which input gradients use in second-order mode.
    private readonly PinnedBuffer<float> squaredWeights;

    // The batch in flight (set by Backward, read by the workers).
    private float* weightsForInput;
    private int* labels;
    private float mapJ;
    private int backwardCount, chunkTiles;
    private bool secondOrder;
    private readonly Action<int, int> backwardChunk, backwardLaneSet, backwardDense;

    /// <summary>
    /// The batch's parameter gradients into <paramref name="gradients"/>, its loss sum and hits. <paramref name="update"/>,
    /// when given, is called once for each block [from, to) of the parameters as soon as its gradients are final (see
    /// <see cref="ChunkSums{TS, TV}.Reduce"/>): nothing here reads the parameters after that, so it may step them.
    /// </summary>
    public void Backward(float* parameters, Squashing squashing, int* labels, int count, float* gradients, bool secondOrder, float mapJ,
        out double lossSum, out int correct, Action<int, int>? update = null)
    {
        this.parameters = parameters;
        this.squashing = squashing;
        this.mapJ = mapJ;
        this.labels = labels;
        this.secondOrder = secondOrder;
        backwardCount = count;
        if (patternForward)
        {
            if (count == 1 && !secondOrder)
            {
                BackwardPattern(gradients, out lossSum, out correct);
                this.labels = null;
                update?.Invoke(0, P.Length);
                return;
            }
            TilePattern();
        }
        if (looseStart >= 0 && looseStart < count) TileLooseImages();
        PrepareWeights();

        int groups = (count + CanonicalSum.Lanes - 1) / CanonicalSum.Lanes;
        int chunkGroups = (groups + MaxChunks - 1) / MaxChunks;
        chunkTiles = chunkGroups * GroupTiles;
        int chunks = (groups + chunkGroups - 1) / chunkGroups;
        if (GroupTiles == 1 || chunks >= pool.Threads)
            pool.Run(chunks, backwardChunk);
        else
        {
            // Every chunk but the last has all its lane sets; the last, those its tiles reach.
            int lastTiles = TilesFor(count) - (chunks - 1) * chunkTiles;
            pool.Run((chunks - 1) * GroupTiles + Math.Min(GroupTiles, lastTiles), backwardLaneSet);
            pool.Run(chunks, backwardDense);
        }
        chunkSums.Reduce(chunks, gradients, update, out lossSum, out correct);
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

    private (int First, int End) ChunkRange(int chunk)
    {
        int first = chunk * chunkTiles;
        return (first, Math.Min(first + chunkTiles, TilesFor(backwardCount)));
    }

    private float* LanesOf(int chunk) => chunkLanes.Pointer + (long)chunk * BackwardWorkspace<TS, TV>.ChunkLaneFloats;

    /// <summary>
    /// A chunk's lane sets, then its dense part. Its tiles go back two at a time, in order (tile t into set
    /// t % GroupTiles, so each set still sees its tiles in order and every accumulator A's terms before B's), the two
    /// sharing each weight of the dense layers' input gradients.
    /// </summary>
    private void BackwardChunk(int worker, int chunk)
    {
        var s = workspaces[worker];
        var (first, end) = ChunkRange(chunk);
        float* lanes = LanesOf(chunk);
        for (int set = 0; set < Math.Min(GroupTiles, end - first); set++)
            new Span<float>(BackwardWorkspace<TS, TV>.LaneSet(lanes, set), AccVectors * L).Clear();
        int tile = first;
        for (; tile + 1 < end; tile += 2)
        {
            float* accA = BackwardWorkspace<TS, TV>.LaneSet(lanes, (tile - first) % GroupTiles);
            float* accB = BackwardWorkspace<TS, TV>.LaneSet(lanes, (tile + 1 - first) % GroupTiles);
            BackwardDensePair(s, tile, accA, accB);
            BackwardConvolutions(s, tile, s.DS4.Pointer, accA);
            BackwardConvolutions(s, tile + 1, s.DS4B.Pointer, accB);
        }
        if (tile < end) BackwardTile(s, tile, BackwardWorkspace<TS, TV>.LaneSet(lanes, (tile - first) % GroupTiles));
        Dense(worker, chunk);
    }

    /// <summary>Item i: lane set i % GroupTiles of chunk i / GroupTiles.</summary>
    private void LaneSetItem(int worker, int item) => LaneSet(worker, item / GroupTiles, item % GroupTiles);

    /// <summary>The chunk's tiles of lane set <paramref name="set"/>, in order, into that set (cleared first).</summary>
    private void LaneSet(int worker, int chunk, int set)
    {
        var s = workspaces[worker];
        float* acc = BackwardWorkspace<TS, TV>.LaneSet(LanesOf(chunk), set);
        new Span<float>(acc, AccVectors * L).Clear();
        var (first, end) = ChunkRange(chunk);
        for (int tile = first + set; tile < end; tile += GroupTiles)
            BackwardTile(s, tile, acc);
    }

    /// <summary>
    /// The chunk's dense weight gradients, its tiles in order (the first assigns, the rest add), its lanes folded and
    /// written with them to the chunk's sums, and its loss (image by image, in order) and hits.
    /// </summary>
    private void Dense(int worker, int chunk)
    {
        var s = workspaces[worker];
        float* sums = chunkSums.Gradients(chunk);
        bool so = secondOrder;
        var (first, end) = ChunkRange(chunk);
        double loss = 0;
        int correct = 0;
        for (int block = first; block < end; block += BackwardWorkspace<TS, TV>.DenseTiles)
        {
            bool add = block != first;
            int tiles = Math.Min(BackwardWorkspace<TS, TV>.DenseTiles, end - block);
            for (int t = 0; t < tiles; t++)
            {
                if (output != OutputLayer.Rbf) FullyConnectedTiles.Transpose<TS, TV>(TileOf(Layer.F6, block + t), F6Units, so, s.F6T.Pointer + t * L * F6Columns, F6Columns);
                FullyConnectedTiles.Transpose<TS, TV>(TileOf(Layer.C5, block + t), C5Units, so, s.C5T.Pointer + t * L * C5Columns, C5Columns);
                FullyConnectedTiles.Transpose<TS, TV>(TileOf(Layer.S4, block + t), LengthOf(Layer.S4), so, s.S4T.Pointer + t * L * S4Columns, S4Columns);
            }
            long stride = BackwardWorkspace<TS, TV>.TileDeltaFloats;
            float* dLogits = DeltasOf(block), dF6 = dLogits + OutputRows * L, dC5 = dF6 + LengthOf(Layer.F6) * L;
            if (output != OutputLayer.Rbf)
                FullyConnectedTiles.WeightGradient<TS, TV>(dLogits, stride, tiles, OutputRows, s.F6T.Pointer, F6Columns, s.OutputWeight.Pointer, add);
            FullyConnectedTiles.WeightGradient<TS, TV>(dF6, stride, tiles, F6Units, s.C5T.Pointer, C5Columns, s.F6Weight.Pointer, add);
            FullyConnectedTiles.WeightGradient<TS, TV>(dC5, stride, tiles, C5Units, s.S4T.Pointer, S4Columns, sums + P.C5Weight.Offset, add);
            for (int tile = block; tile < block + tiles; tile++)
            {
                int valid = Math.Min(L, backwardCount - tile * L);
                for (int n = 0; n < valid; n++) loss += imageLosses.Pointer[(long)tile * L + n];
                correct += tileCorrect[tile];
            }
        }
        // Lane sets no tile of the chunk reached (a last group cut short) hold zeros.
        float* lanes = LanesOf(chunk);
        for (int set = end - first; set < GroupTiles; set++)
            new Span<float>(BackwardWorkspace<TS, TV>.LaneSet(lanes, set), AccVectors * L).Clear();
        s.WriteSums(lanes, sums, output == OutputLayer.Rbf);
        chunkSums.SetScore(chunk, loss, correct);
    }

    /// <summary>
    /// One tile back from the loss: activation gradients, the per-lane parameter gradients added into
    /// <paramref name="acc"/>, and the tile's dLogits, dF6 and dC5, losses and hits saved for <see cref="Dense"/>.
    /// </summary>
    private void BackwardTile(BackwardWorkspace<TS, TV> s, int tile, float* acc)
    {
        float* w = weightsForInput;
        float* dLogits = DeltasOf(tile), dF6 = dLogits + OutputRows * L, dC5 = dF6 + LengthOf(Layer.F6) * L;
        LossBackward(tile, acc);
        if (output != OutputLayer.Rbf) FullyConnectedTiles.InputGradient<TS, TV>(dLogits, Classes, w + P.OutputWeight.Offset, F6Units, dF6);
        DenseBackward(tile, acc, Layer.F6);
        FullyConnectedTiles.InputGradient<TS, TV>(dF6, F6Units, w + P.F6Weight.Offset, C5Units, dC5);
        DenseBackward(tile, acc, Layer.C5);
        FullyConnectedTiles.InputGradient<TS, TV>(dC5, C5Units, w + P.C5Weight.Offset, LengthOf(Layer.S4), s.DS4.Pointer);
        BackwardConvolutions(s, tile, s.DS4.Pointer, acc);
    }

    /// <summary>
    /// <see cref="BackwardTile"/>'s steps down to S4's gradient for tiles A and B (into DS4 and DS4B), each step for A
    /// then B, the dense layers' input gradients two tiles at a time: each tile's values are those of BackwardTile.
    /// </summary>
    private void BackwardDensePair(BackwardWorkspace<TS, TV> s, int tile, float* accA, float* accB)
    {
        float* w = weightsForInput;
        float* dLogitsA = DeltasOf(tile), dF6A = dLogitsA + OutputRows * L, dC5A = dF6A + LengthOf(Layer.F6) * L;
        float* dLogitsB = DeltasOf(tile + 1), dF6B = dLogitsB + OutputRows * L, dC5B = dF6B + LengthOf(Layer.F6) * L;
        LossBackward(tile, accA);
        LossBackward(tile + 1, accB);
        if (output != OutputLayer.Rbf)
            FullyConnectedTiles.InputGradientPair<TS, TV>(dLogitsA, dLogitsB, Classes, w + P.OutputWeight.Offset, F6Units, dF6A, dF6B);
        DenseBackward(tile, accA, Layer.F6);
        DenseBackward(tile + 1, accB, Layer.F6);
        FullyConnectedTiles.InputGradientPair<TS, TV>(dF6A, dF6B, F6Units, w + P.F6Weight.Offset, C5Units, dC5A, dC5B);
        DenseBackward(tile, accA, Layer.C5);
        DenseBackward(tile + 1, accB, Layer.C5);
        FullyConnectedTiles.InputGradientPair<TS, TV>(dC5A, dC5B, C5Units, w + P.C5Weight.Offset, LengthOf(Layer.S4), s.DS4.Pointer, s.DS4B.Pointer);
    }

    private float* DeltasOf(int tile) => tileDeltas.Pointer + (long)tile * BackwardWorkspace<TS, TV>.TileDeltaFloats;

    /// <summary>F6's or C5's output gradient (dF6 or dC5, the input gradient above it) through its squashing, and its bias gradient.</summary>
    private void DenseBackward(int tile, float* acc, Layer layer)
    {
        float* dF6 = DeltasOf(tile) + OutputRows * L;
        if (layer == Layer.F6)
        {
            FullyConnectedTiles.SquashBackward<TS, TV>(dF6, TileOf(Layer.F6, tile), F6Units, squashing, secondOrder);
            FullyConnectedTiles.Accumulate<TS, TV>(dF6, F6Units, acc + AccF6Bias * L);
        }
        else
        {
            float* dC5 = dF6 + LengthOf(Layer.F6) * L;
            FullyConnectedTiles.SquashBackward<TS, TV>(dC5, TileOf(Layer.C5, tile), C5Units, squashing, secondOrder);
            FullyConnectedTiles.Accumulate<TS, TV>(dC5, C5Units, acc + AccC5Bias * L);
        }
    }

    /// <summary>The loss's gradient: dLogits (and OUTPUT's bias gradient) after a softmax, dF6 after RBF units; the tile's losses and hits.</summary>
    private void LossBackward(int tile, float* acc)
    {
        int valid = Math.Min(L, backwardCount - tile * L);
        bool so = secondOrder;
        float* a6 = TileOf(Layer.F6, tile);
        float* dLogits = DeltasOf(tile), dF6 = dLogits + OutputRows * L;
        double* losses = imageLosses.Pointer + (long)tile * L;
        int correct = 0;

        if (output == OutputLayer.Rbf)
        {
            // OUTPUT: RBF units and the MAP loss; fixed centres, so only F6's gradient.
            RbfTiles.Backward(L, valid, backwardCount, so, mapJ, TileOf(Layer.Output, tile), a6,
                parameters + P.OutputWeight.Offset, predictions.Pointer + (long)tile * L, labels + tile * L, dF6, losses, ref correct);
        }
        else
        {
            SoftmaxTiles.Backward(L, valid, backwardCount, so, probabilities.Pointer + (long)tile * L * Classes,
                predictions.Pointer + (long)tile * L, labels + tile * L, dLogits, losses, ref correct);

            // OUTPUT 84 → 10 (identity); its input gradient follows, its weight gradient in Dense.
            FullyConnectedTiles.Accumulate<TS, TV>(dLogits, Classes, acc + AccOutputBias * L);
        }
        tileCorrect[tile] = correct;
    }

    /// <summary>
    /// A tile back from S4's output gradient <paramref name="dS4"/> (before S4's squashing) to C1's parameter gradients:
    /// F6 and C5 (squashed) are <see cref="DenseBackward"/>'s, and above them the loss's.
    /// </summary>
    private void BackwardConvolutions(BackwardWorkspace<TS, TV> s, int tile, float* dS4, float* acc)
    {
        bool so = secondOrder;
        var sq = squashing;
        float* w = weightsForInput;
        float* x = TileOf(Layer.Input, tile), a1 = TileOf(Layer.C1, tile), a2 = TileOf(Layer.S2, tile), a3 = TileOf(Layer.C3, tile);
        float* a4 = TileOf(Layer.S4, tile);

        // S4 16@10x10 → 16@5x5 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(dS4, a4, LengthOf(Layer.S4), sq, so);
        float* dC3 = s.DC3.Pointer;
        SubsamplingTiles.Backward<TS, TV>(dS4, a3, C3Maps, S4Size, w + P.S4Coefficient.Offset, so,
            acc + AccS4Coefficient * L, acc + AccS4Bias * L, dC3, C3Size, C3Size * C3Size);

        // C3 6@14x14 → 16@10x10 (Table I; identity, or squashed)
        if (convolution != Activation.Identity) FullyConnectedTiles.SquashBackward<TS, TV>(dC3, a3, LengthOf(Layer.C3), sq, so);
        // Each map's bias gradient is summed inside the weight gradient of its first connection.
        for (int k = 0; k < C3Connections.Pairs.Length; k++)
        {
            int o = C3Connections.Pairs[k].Output;
            ConvolutionTiles.WeightGradient<TS, TV>(dC3 + o * C3Size * C3Size * L, C3Size, C3Size, C3Size,
                a2 + C3Connections.Pairs[k].Input * S2Size * S2Size * L, S2Size, so, acc + (AccC3Weight + k * Taps) * L,
                C3Connections.FirstOfOutput[k] ? acc + (AccC3Bias + o) * L : null);
        }
        ConvolutionTiles.InputGradientC3<TS, TV>(dC3, w + P.C3Weight.Offset, C3Connections.OutputsOf.Start, C3Connections.OutputsOf.Outputs, s.DS2.Pointer);

        // S2 6@28x28 → 6@14x14 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DS2.Pointer, a2, LengthOf(Layer.S2), sq, so);
        SubsamplingTiles.Backward<TS, TV>(s.DS2.Pointer, a1, C1Maps, S2Size, w + P.S2Coefficient.Offset, so,
            acc + AccS2Coefficient * L, acc + AccS2Bias * L, s.DC1.Pointer, C1Size, C1Size * C1Size);

        // C1 1@32x32 → 6@28x28 (identity, or squashed); the input needs no gradient.
        if (convolution != Activation.Identity) FullyConnectedTiles.SquashBackward<TS, TV>(s.DC1.Pointer, a1, LengthOf(Layer.C1), sq, so);
        for (int o = 0; o < C1Maps; o++)
        {
            float* dOut = s.DC1.Pointer + o * C1Size * C1Size * L;
            ConvolutionTiles.WeightGradient<TS, TV>(dOut, C1Size, C1Size, C1Size, x, InputSize, so, acc + (AccC1Weight + o * Taps) * L,
                acc + (AccC1Bias + o) * L);
        }
    }
}

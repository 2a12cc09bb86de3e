using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>What <see cref="CpuNetwork"/> needs of an engine, whatever its vector width.</summary>
internal unsafe interface ITileEngine : IDisposable
{
    int Lanes { get; }
    float* Probabilities { get; }
    int* Predictions { get; }

    /// <summary>Runs the network on count images given as floats [count][1024] or MNIST bytes [count][784] (one is null).</summary>
    /// <param name="tilesOnly">Run leftover images as a partial tile too (a backward pass follows, which needs them
    /// in tiles: running them one by one first would be work thrown away).</param>
    /// <param name="keep">Keep every layer of every image (for <see cref="CopyActivations"/> and a backward pass); when
    /// false, only the probabilities and predictions are written, each tile's layers passing through its worker's own
    /// buffers.</param>
    void Forward(float* parameters, Squashing squashing, ConvolutionSquashing convolutions, OutputLayer output, float* images, byte* mnist, int count,
        bool tilesOnly = false, bool keep = true);

    /// <param name="mapJ">The MAP loss's j, for an RBF output (see <see cref="RbfTiles"/>).</param>
    void Backward(float* parameters, Squashing squashing, int* labels, int count, float* gradients, bool secondOrder, float mapJ,
        out double lossSum, out int correct, Action<int, int>? update = null);

    /// <summary>
    /// The backward pass of a per-pattern SDLM step with the update of the dense layers' weights fused in (their
    /// gradients then not written; TileEngine.Pattern.cs); false, with nothing done, where the step does not run
    /// within the image.
    /// </summary>
    bool BackwardPatternSdlm(float* parameters, Squashing squashing, int* labels, float* gradients, float mapJ, float* stepSizes, float weightDecay,
        out double lossSum, out int correct);

    void CopyActivations(Layer layer, int count, float* destination);

    /// <summary>Tile 0 of a layer's outputs as the backward pass reads them, every lane, [elements][Lanes] (for tests).</summary>
    void CopyFirstTile(Layer layer, float* destination);

    /// <summary>Whether a lone image with a backward pass to follow takes the per-pattern path (tests turn it off to compare).</summary>
    bool PatternPath { get; set; }
}

/// <summary>
/// The batch engine: every activation of up to <c>capacity</c> images in tiles of L images (<see cref="TileLayout"/>),
/// worked on by <c>threads</c> workers.
/// <code>
/// Forward:  one tile at a time per worker, all layers:  input → C1 → S2 → C3 → S4 → C5 → F6 → OUTPUT → softmax;
///           two at a time where the batch has 4 tiles a worker (C5 and F6 then run both tiles at once)
/// Backward: the tiles in chunks of a fixed number of 16-image groups (set by the batch size only); per chunk, its
///           tiles run back from the loss, summing parameter gradients over the chunk's images into the chunk's own
///           accumulators in one order, and the chunk's sum is written in the flat parameter layout. The chunk sums
///           are added in chunk order. The result depends on the batch alone: not on the threads, nor on the width.
/// </code>
/// Buffers are allocated once, here; a batch allocates nothing. This file holds
/// the buffers and the forward pass; TileEngine.Backward.cs the backward pass, <see cref="ChunkSums{TS, TV}"/> the
/// chunk sums and their reduction, <see cref="WorkerPool"/> the scheduling, <see cref="TileStaging{TS, TV}"/> the input staging.
/// </summary>
internal sealed unsafe partial class TileEngine<TS, TV> : ITileEngine where TS : struct, ISimd<TV> where TV : struct
{
    /// <summary>At most this many chunk sums per batch: bounds their memory (and the final reduction) at any batch size.</summary>
    public const int MaxChunks = ChunkSums<TS, TV>.MaxChunks;

    private static readonly int L = TS.Lanes;
    private readonly WorkerPool pool;
    private readonly PinnedBuffer<float> activations, probabilities; // activations: every layer's output, tile after tile
    private readonly PinnedBuffer<int> predictions;
    private readonly ConvolutionTaps c1Rows, c3Rows;

    // A forward pass that keeps no activations runs each tile through buffers of its worker's own, which stay in the
    // core's L2 cache (a kept batch writes every layer of every image to memory, 36 KB an image, and reads it back):
    // [INPUT, later C3] [C1] [S2] [S4 … OUTPUT of the item's tile 0] [the same of tile 1]. Where C1 and C3 are not
    // squashed, C1 and S2 run as one, and C3 and S4 (ConvolutionTiles.C1ToS2, C3ToS4), and C1's and C3's places are
    // never touched: 109 KB a worker at 8 lanes, beside C5's 192 KB of weights (227 KB before).
    private readonly PinnedBuffer<float> workerTiles;
    private static readonly long InputOrC3 = L * (long)Math.Max(InputLength, LengthOf(Layer.C3)), C1Floats = L * (long)LengthOf(Layer.C1),
        S2Floats = L * (long)LengthOf(Layer.S2),
        DenseFloats = L * (long)(ActivationLayout.PerImage - ActivationLayout.OffsetOf(Layer.S4)),
        WorkerFloats = InputOrC3 + C1Floats + S2Floats + 2 * DenseFloats;
    private bool kept = true; // whether the last forward pass kept every layer

    /// <summary>Ends the worker threads (they also end when the engine is collected).</summary>
    public void Dispose() => pool.Dispose();

    // Items of the forward pass: pairs of tiles (the dense layers then run both tiles at once,
    // FullyConnectedTiles.ForwardPair) when there are enough for every worker to get at least two, and the last
    // EndSingles tiles a worker one at a time, so that the workers finish within about half a tile of each other rather
    // than half a pair: batch 1,024 on two threads then took as long an image as batch 8,192 (1.001–1.003 against
    // 1.007–1.010 with pairs to the end, eight calls against one, alternating).
    private int pairItems, tileCount;
    private const int EndSingles = 2;

    // The batch in flight (set by Forward / Backward, read by the workers).
    private float* parameters, images;
    private byte* mnist;
    private Squashing squashing;
    private Activation convolution; // what C1 and C3 apply: identity, or the squashing function
    private OutputLayer output;
    private int count;
    private readonly Action<int, int> forwardItem;

    // Images left over after the full groups of CanonicalSum.Lanes (16) images, when few, run one by one
    // (SingleImage) into slots of their own; the rest run in tiles. Which images run alone is counted in 16-image
    // groups, as a 512-bit tile holds, not in tiles of this width: a tile's lane computes its image as that image
    // alone would in any tile, so every width then gives the same outputs bit for bit.
    private readonly PinnedBuffer<float> slots;
    private readonly SingleImage.Scratch[] imageScratch;
    private readonly PinnedBuffer<float>? patternSlots; // a per-pattern step's activations (TileEngine.Pattern.cs)
    private readonly int singleImageLimit;
    private int looseStart = -1, tileItems; // the first image run one by one (−1: none), the tiles run before it
    // A slot holds one image's activations where ActivationLayout puts them, every slot starting on 16 floats.
    private static readonly int SlotFloats = PerImageAligned(16);

    /// <param name="singleImageLimit">Images left over after the full 16-image groups up to this many run one by one;
    /// more run in tiles.</param>
    public TileEngine(int capacity, int threads, int singleImageLimit)
    {
        this.singleImageLimit = Math.Min(singleImageLimit, CanonicalSum.Lanes - 1);
        pool = new WorkerPool(threads);
        int tiles = (capacity + L - 1) / L;
        long t = (long)tiles * L;
        activations = new(tiles * TileLayout.Floats(L));
        probabilities = new(t * Classes);
        predictions = new(t);
        workerTiles = new(threads * WorkerFloats);
        c1Rows = ConvolutionTaps.Rows(C1Maps, 1, InputSize, ConvolutionTaps.AllConnected, L);
        c3Rows = ConvolutionTaps.Rows(C3Maps, C1Maps, S2Size, ConvolutionTaps.TableI, L);
        workspaces = new BackwardWorkspace<TS, TV>[threads];
        for (int w = 0; w < threads; w++) workspaces[w] = new BackwardWorkspace<TS, TV>();
        squaredWeights = new(P.Length);
        chunkSums = new ChunkSums<TS, TV>(tiles, pool);
        chunkLanes = new((long)Math.Min(MaxChunks, tiles) * BackwardWorkspace<TS, TV>.ChunkLaneFloats);
        tileDeltas = new((long)tiles * BackwardWorkspace<TS, TV>.TileDeltaFloats);
        imageLosses = new(t);
        tileCorrect = new int[tiles];
        forwardItem = ForwardItem;
        backwardChunk = BackwardChunk;
        backwardLaneSet = LaneSetItem;
        backwardDense = Dense;
        slots = new((long)Math.Min(this.singleImageLimit, capacity) * SlotFloats);
        imageScratch = new SingleImage.Scratch[this.singleImageLimit > 0 ? threads : 0];
        for (int w = 0; w < imageScratch.Length; w++) imageScratch[w] = new SingleImage.Scratch();
        if (imageScratch.Length > 0)
        {
            patternSlots = new(SlotFloats);
            oneImage = new();
        }
    }

    public int Lanes => L;
    public bool PatternPath { get; set; } = true;
    public float* Probabilities => probabilities.Pointer;
    public int* Predictions => predictions.Pointer;

    private int TilesFor(int images) => (images + L - 1) / L;

    // ---------------------------------------------------------------- forward

    public void Forward(float* parameters, Squashing squashing, ConvolutionSquashing convolutions, OutputLayer output, float* images, byte* mnist, int count,
        bool tilesOnly = false, bool keep = true)
    {
        kept = keep || tilesOnly;
        this.parameters = parameters;
        this.squashing = squashing;
        convolution = squashing.ConvolutionActivation(convolutions);
        this.output = output;
        this.images = images;
        this.mnist = mnist;
        this.count = count;
        patternForward = false;
        if (tilesOnly && count == 1 && images != null && patternSlots is not null && PatternPath && System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            ForwardPattern();
            this.images = null;
            return;
        }
        int left = count % CanonicalSum.Lanes;
        bool single = left > 0 && left <= singleImageLimit && !tilesOnly;
        looseStart = single ? count - left : -1;
        tileCount = single ? looseStart / L : TilesFor(count); // a whole number of tiles: L divides 16
        pairItems = tileCount >= 4 * pool.Threads ? (tileCount - EndSingles * pool.Threads) / 2 : 0;
        tileItems = pairItems + (tileCount - 2 * pairItems);
        pool.Run(tileItems + (single ? left : 0), forwardItem);
        this.images = null;
        this.mnist = null;
    }

    /// <summary>Item i: a pair of tiles while i &lt; pairItems, then one tile while i &lt; tileItems, else one image left over after them.</summary>
    private void ForwardItem(int worker, int item)
    {
        if (item >= tileItems)
        {
            ForwardImage(worker, looseStart + item - tileItems);
            return;
        }
        int first = FirstTileOf(item), tiles = item < pairItems ? 2 : 1;
        for (int slot = 0; slot < tiles; slot++)
        {
            int tile = first + slot, valid = Math.Min(L, count - tile * L);
            float* x = Place(Layer.Input, tile, worker, slot);
            if (images != null) TileStaging<TS, TV>.Floats(images + (long)tile * L * InputLength, valid, x);
            else TileStaging<TS, TV>.Mnist(mnist + (long)tile * L * InputField.MnistLength, valid, x);
            // While C1 runs, the images of the tile this worker stages next come toward its caches: the item's second
            // tile, else the first of item + threads, the one it takes next while the workers alternate (as items of
            // equal work make them do; a wrong guess only costs the lines).
            int next = slot + 1 < tiles ? tile + 1 : FirstTileOf(item + pool.Threads);
            if (images == null || next < 0) ForwardConvolutions(tile, worker, slot);
            else ForwardConvolutions(tile, worker, slot, (byte*)(images + (long)next * L * InputLength), Math.Min(L, count - next * L) * InputLength * sizeof(float));
        }
        if (tiles == 1)
        {
            ForwardDense(first, Math.Min(L, count - first * L), worker);
            return;
        }
        float* p = parameters;
        int second = first + 1;
        FullyConnectedTiles.ForwardPair<TS, TV>(Place(Layer.S4, first, worker, 0), Place(Layer.S4, second, worker, 1), LengthOf(Layer.S4),
            p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, squashing, Place(Layer.C5, first, worker, 0), Place(Layer.C5, second, worker, 1));
        FullyConnectedTiles.ForwardPair<TS, TV>(Place(Layer.C5, first, worker, 0), Place(Layer.C5, second, worker, 1), C5Units,
            p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, squashing, Place(Layer.F6, first, worker, 0), Place(Layer.F6, second, worker, 1));
        ForwardOutput(first, Math.Min(L, count - first * L), worker, 0);
        ForwardOutput(second, Math.Min(L, count - second * L), worker, 1);
    }

    /// <summary>The first tile of forward item <paramref name="item"/>; −1 past the tiles.</summary>
    private int FirstTileOf(int item) => item >= tileItems ? -1 : item < pairItems ? 2 * item : pairItems + item;

    private void ForwardImage(int worker, int n)
    {
        float* slot = slots.Pointer + (long)(n - looseStart) * SlotFloats;
        var outputs = new SingleImage.Outputs(slot, probabilities.Pointer + (long)n * Classes, predictions.Pointer + n);
        var input = new Span<float>(outputs[Layer.Input], InputLength);
        if (images != null) new ReadOnlySpan<float>(images + (long)n * InputLength, InputLength).CopyTo(input);
        else CpuNetwork.ConvertMnist(new ReadOnlySpan<byte>(mnist + (long)n * InputField.MnistLength, InputField.MnistLength), input);
        SingleImage.Forward<TS, TV>(parameters, squashing, convolution, output, imageScratch[worker], outputs);
    }

    /// <summary>
    /// Brings the images run one by one into the tile layout (their inputs from the slots, empty lanes zero) and runs
    /// their tiles forward, so that the backward pass sees one layout. Their outputs replace the one-by-one results.
    /// </summary>
    private void TileLooseImages()
    {
        for (int tile = looseStart / L; tile < TilesFor(count); tile++)
        {
            int valid = Math.Min(L, count - tile * L);
            float* x = TileOf(Layer.Input, tile), slotInputs = slots.Pointer + OffsetOf(Layer.Input);
            for (int e = 0; e < InputLength; e++)
                for (int n = 0; n < L; n++)
                    x[e * L + n] = n < valid ? slotInputs[(long)(tile * L + n - looseStart) * SlotFloats + e] : 0f;
            ForwardTile(tile, valid, 0);
        }
        looseStart = -1;
    }

    /// <summary>
    /// C1–S4 of one image at the widest vector the hardware accelerates, whatever the tiles' width (a batch-1 step's
    /// tiles are narrow, <see cref="CpuTrainingBackend.StepWidth"/>): every output's chain is the same at every width.
    /// </summary>
    private void Convolutions(float* slot)
    {
        var o = new SingleImage.Outputs(slot, null, null);
        var s = imageScratch[0];
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            SingleImage.Convolutions<Simd512, System.Runtime.Intrinsics.Vector512<float>>(parameters, squashing, convolution, s, o);
        else if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            SingleImage.Convolutions<Simd256, System.Runtime.Intrinsics.Vector256<float>>(parameters, squashing, convolution, s, o);
        else
            SingleImage.Convolutions<TS, TV>(parameters, squashing, convolution, s, o);
    }

    private void ForwardTile(int tile, int valid, int worker)
    {
        ForwardConvolutions(tile, worker, 0);
        ForwardDense(tile, valid, worker);
    }

    /// <summary>C1 to S4 of a tile whose input is in place.</summary>
    private void ForwardConvolutions(int tile, int worker, int slot, byte* prefetch = null, int prefetchBytes = 0)
    {
        float* p = parameters;
        float* x = Place(Layer.Input, tile, worker, slot), a1 = Place(Layer.C1, tile, worker, slot), a2 = Place(Layer.S2, tile, worker, slot);
        float* a3 = Place(Layer.C3, tile, worker, slot), a4 = Place(Layer.S4, tile, worker, slot);

        if (!kept && convolution == Activation.Identity)
        {
            // Nothing keeps C1 or C3, and neither is squashed: their sums go from registers into S2's and S4's.
            ConvolutionTiles.C1ToS2<TS, TV>(x, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset,
                squashing, a2, prefetch, prefetchBytes);
            ConvolutionTiles.C3ToS4<TS, TV>(a2, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset,
                squashing, a4);
            return;
        }
        ConvolutionTiles.ForwardRows<TS, TV>(x, InputSize, a1, C1Maps, C1Size, C1Size, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset, prefetch, prefetchBytes);
        if (convolution != Activation.Identity) VectorMath.SquashInPlace<TS, TV>(a1, LengthOf(Layer.C1), squashing);
        SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, squashing, a2);
        ConvolutionTiles.ForwardRows<TS, TV>(a2, S2Size, a3, C3Maps, C3Size, C3Size, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset);
        if (convolution != Activation.Identity) VectorMath.SquashInPlace<TS, TV>(a3, LengthOf(Layer.C3), squashing);
        SubsamplingTiles.Forward<TS, TV>(a3, C3Maps, S4Size, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, squashing, a4);
    }

    /// <summary>C5, F6, OUTPUT and the softmax of a tile whose S4 is in place.</summary>
    private void ForwardDense(int tile, int valid, int worker)
    {
        float* p = parameters;
        float* a4 = Place(Layer.S4, tile, worker), a5 = Place(Layer.C5, tile, worker), a6 = Place(Layer.F6, tile, worker);
        FullyConnectedTiles.Forward<TS, TV>(a4, LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, squashing, a5);
        FullyConnectedTiles.Forward<TS, TV>(a5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, squashing, a6);
        ForwardOutput(tile, valid, worker, 0);
    }

    /// <summary>OUTPUT and the softmax of a tile whose F6 is in place.</summary>
    private void ForwardOutput(int tile, int valid, int worker, int slot)
    {
        float* p = parameters;
        float* a6 = Place(Layer.F6, tile, worker, slot), a7 = Place(Layer.Output, tile, worker, slot);
        FullyConnectedTiles.Forward<TS, TV>(a6, F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, false, squashing, a7);
        if (output == OutputLayer.Rbf) RbfTiles.Distances<TS, TV>(a6, a7);
        float* scratch = stackalloc float[Classes * L];
        SoftmaxTiles.Forward<TS, TV>(a7, valid, probabilities.Pointer + (long)tile * L * Classes,
            predictions.Pointer + (long)tile * L, scratch);
    }

    /// <summary>Tile <paramref name="tile"/> of a layer's outputs, [elements][L].</summary>
    private float* TileOf(Layer layer, int tile) => activations.Pointer + TileLayout.OffsetOf(layer, tile, L);

    /// <summary>Where this forward pass puts tile <paramref name="tile"/> of a layer, the item's tile number
    /// <paramref name="slot"/> (0 or 1): in the batch's buffers when it keeps them, else in the worker's own.</summary>
    private float* Place(Layer layer, int tile, int worker, int slot = 0)
    {
        if (kept) return TileOf(layer, tile);
        float* own = workerTiles.Pointer + worker * WorkerFloats;
        return layer switch
        {
            Layer.Input or Layer.C3 => own, // C3 once C1 has read INPUT
            Layer.C1 => own + InputOrC3,
            Layer.S2 => own + InputOrC3 + C1Floats,
            _ => own + InputOrC3 + C1Floats + S2Floats + slot * DenseFloats + (long)(ActivationLayout.OffsetOf(layer) - ActivationLayout.OffsetOf(Layer.S4)) * L,
        };
    }

    public void CopyFirstTile(Layer layer, float* destination)
    {
        if (patternForward) TilePattern();
        new ReadOnlySpan<float>(TileOf(layer, 0), LengthOf(layer) * L).CopyTo(new Span<float>(destination, LengthOf(layer) * L));
    }

    public void CopyActivations(Layer layer, int count, float* destination)
    {
        int elements = LengthOf(layer);
        if (patternForward)
        {
            new ReadOnlySpan<float>(patternSlots!.Pointer + OffsetOf(layer), elements).CopyTo(new Span<float>(destination, elements));
            return;
        }
        for (int n = 0; n < count; n++)
        {
            if (looseStart >= 0 && n >= looseStart)
            {
                new ReadOnlySpan<float>(slots.Pointer + (long)(n - looseStart) * SlotFloats + OffsetOf(layer), elements)
                    .CopyTo(new Span<float>(destination + (long)n * elements, elements));
                continue;
            }
            float* tile = TileOf(layer, n / L) + n % L;
            float* d = destination + (long)n * elements;
            for (int e = 0; e < elements; e++) d[e] = tile[e * L];
        }
    }
}

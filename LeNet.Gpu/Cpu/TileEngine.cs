using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.ActivationLayout;
using static LeNet.Gpu.Model.Architecture;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>What <see cref="CpuNetwork"/> needs of an engine, whatever its vector width.</summary>
internal unsafe interface ITileEngine
{
    int Lanes { get; }
    float* Probabilities { get; }
    int* Predictions { get; }

    /// <summary>Runs the network on count images given as floats [count][1024] or MNIST bytes [count][784] (one is null).</summary>
    /// <param name="tilesOnly">Run leftover images as a partial tile too (a backward pass follows, which needs them
    /// in tiles: running them one by one first would be work thrown away).</param>
    void Forward(float* parameters, Squashing squashing, ConvolutionSquashing convolutions, OutputLayer output, float* images, byte* mnist, int count,
        bool tilesOnly = false);

    /// <param name="mapJ">The MAP loss's j, for an RBF output (see <see cref="RbfTiles"/>).</param>
    void Backward(float* parameters, Squashing squashing, int* labels, int count, float* gradients, bool secondOrder, float mapJ,
        out double lossSum, out int correct);

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
/// Forward:  one tile at a time per worker, all layers:  input → C1 → S2 → C3 → S4 → C5 → F6 → OUTPUT → softmax
/// Backward: the tiles in chunks of a fixed number of 16-image groups (set by the batch size only); per chunk, its
///           tiles run back from the loss, summing parameter gradients over the chunk's images into the chunk's own
///           accumulators in one order, and the chunk's sum is written in the flat parameter layout. The chunk sums
///           are added in chunk order. The result depends on the batch alone: not on the threads, nor on the width.
/// </code>
/// Buffers are allocated once, here; a batch allocates nothing but the thread pool's bookkeeping. This file holds
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
        bool tilesOnly = false)
    {
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
        tileItems = single ? looseStart / L : TilesFor(count); // a whole number of tiles: L divides 16
        pool.Run(tileItems + (single ? left : 0), forwardItem);
        this.images = null;
        this.mnist = null;
    }

    /// <summary>Item i: a tile while i &lt; tileItems, else one image left over after them.</summary>
    private void ForwardItem(int worker, int item)
    {
        if (item >= tileItems)
        {
            ForwardImage(worker, looseStart + item - tileItems);
            return;
        }
        int tile = item, valid = Math.Min(L, count - tile * L);
        float* x = TileOf(Layer.Input, tile);
        if (images != null) TileStaging<TS, TV>.Floats(images + (long)tile * L * InputLength, valid, x);
        else TileStaging<TS, TV>.Mnist(mnist + (long)tile * L * InputField.MnistLength, valid, x);
        ForwardTile(tile, valid);
    }

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
            ForwardTile(tile, valid);
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

    private void ForwardTile(int tile, int valid)
    {
        float* p = parameters;
        float* x = TileOf(Layer.Input, tile), a1 = TileOf(Layer.C1, tile), a2 = TileOf(Layer.S2, tile), a3 = TileOf(Layer.C3, tile);
        float* a4 = TileOf(Layer.S4, tile);

        ConvolutionTiles.ForwardRows<TS, TV>(x, InputSize, a1, C1Maps, C1Size, C1Size, c1Rows, p + P.C1Weight.Offset, p + P.C1Bias.Offset);
        if (convolution != Activation.Identity) VectorMath.SquashInPlace<TS, TV>(a1, LengthOf(Layer.C1), squashing);
        SubsamplingTiles.Forward<TS, TV>(a1, C1Maps, S2Size, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, squashing, a2);
        ConvolutionTiles.ForwardRows<TS, TV>(a2, S2Size, a3, C3Maps, C3Size, C3Size, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset);
        if (convolution != Activation.Identity) VectorMath.SquashInPlace<TS, TV>(a3, LengthOf(Layer.C3), squashing);
        SubsamplingTiles.Forward<TS, TV>(a3, C3Maps, S4Size, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, squashing, a4);
        ForwardDense(tile, valid);
    }

    /// <summary>C5, F6, OUTPUT and the softmax of a tile whose S4 is in place.</summary>
    private void ForwardDense(int tile, int valid)
    {
        float* p = parameters;
        float* a4 = TileOf(Layer.S4, tile), a5 = TileOf(Layer.C5, tile), a6 = TileOf(Layer.F6, tile), a7 = TileOf(Layer.Output, tile);
        FullyConnectedTiles.Forward<TS, TV>(a4, LengthOf(Layer.S4), p + P.C5Weight.Offset, p + P.C5Bias.Offset, C5Units, true, squashing, a5);
        FullyConnectedTiles.Forward<TS, TV>(a5, C5Units, p + P.F6Weight.Offset, p + P.F6Bias.Offset, F6Units, true, squashing, a6);
        FullyConnectedTiles.Forward<TS, TV>(a6, F6Units, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, Classes, false, squashing, a7);
        if (output == OutputLayer.Rbf) RbfTiles.Distances<TS, TV>(a6, a7);
        float* scratch = stackalloc float[Classes * L];
        SoftmaxTiles.Forward<TS, TV>(a7, valid, probabilities.Pointer + (long)tile * L * Classes,
            predictions.Pointer + (long)tile * L, scratch);
    }

    /// <summary>Tile <paramref name="tile"/> of a layer's outputs, [elements][L].</summary>
    private float* TileOf(Layer layer, int tile) => activations.Pointer + TileLayout.OffsetOf(layer, tile, L);

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

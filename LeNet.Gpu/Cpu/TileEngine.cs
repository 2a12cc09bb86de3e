using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>What <see cref="CpuNetwork"/> needs of an engine, whatever its vector width.</summary>
internal unsafe interface ITileEngine
{
    int Lanes { get; }
    float* Probabilities { get; }
    int* Predictions { get; }

    /// <summary>Runs the network on count images given as floats [count][1024] or MNIST bytes [count][784] (one is null).</summary>
    void Forward(float* parameters, Squashing squashing, OutputLayer output, float* images, byte* mnist, int count);

    /// <param name="mapJ">The MAP loss's j, for an RBF output (see <see cref="RbfTiles"/>).</param>
    void Backward(float* parameters, Squashing squashing, int* labels, int count, float* gradients, bool secondOrder, float mapJ,
        out double lossSum, out int correct);

    void CopyActivations(CpuLayer layer, int count, float* destination);
}

/// <summary>
/// The batch engine: every activation of up to <c>capacity</c> images in tiles of L images (<see cref="TileLayout"/>),
/// worked on by <c>threads</c> workers.
/// <code>
/// Forward:  one tile at a time per worker, all layers:  input → C1 → S2 → C3 → S4 → C5 → F6 → OUTPUT → softmax
/// Backward: the tiles in chunks of a fixed number of tiles (set by the batch size only); per chunk, one worker
///           runs every tile back from the loss and sums parameter gradients over the chunk's images into its
///           own accumulators, then writes the chunk's sum in the flat parameter layout. The chunk sums are
///           added in chunk order. The result depends on the batch and the vector width, never on the threads.
/// </code>
/// Buffers are allocated once, here; a batch allocates nothing but the thread pool's bookkeeping.
/// </summary>
internal sealed unsafe class TileEngine<TS, TV> : ITileEngine where TS : struct, ISimd<TV> where TV : struct
{
    /// <summary>At most this many chunk sums per batch: bounds their memory (and the final reduction) at any batch size.</summary>
    public const int MaxChunks = 16;

    private static readonly int L = TS.Lanes;
    private readonly int tiles, threads;
    private readonly ParallelOptions parallel;
    private readonly PinnedBuffer<float> input, c1, s2, c3, s4, c5, f6, logits, probabilities;
    private readonly PinnedBuffer<int> predictions;
    private readonly ConvolutionTaps c3Rows;
    private readonly Worker[] workers;

    // Backward: the squared parameters, which input gradients use in second-order mode.
    private readonly PinnedBuffer<float> squaredWeights;
    private readonly PinnedBuffer<float> chunkSums;
    private readonly double[] chunkLoss = new double[MaxChunks];
    private readonly int[] chunkCorrect = new int[MaxChunks];
    // Each chunk's sums start ChunkOrigin floats into its stride so that C5's weights (accumulated there by
    // whole vectors) begin on a 64-byte boundary.
    private static readonly int ChunkOrigin = (16 - P.C5Weight.Offset % 16) % 16;
    private static readonly int ChunkStride = (ChunkOrigin + P.Length + 15) & ~15;
    private static readonly (int Output, int Input)[] C3Pairs = BuildC3Pairs();
    private static readonly (int[] Start, int[] Outputs) C3OutputsOf = BuildC3OutputsOf();

    // The batch in flight (set by Forward / Backward, read by the workers).
    private float* parameters, images, weightsForInput;
    private byte* mnist;
    private int* labels;
    private Squashing squashing;
    private OutputLayer output;
    private float mapJ;
    private int count, backwardCount, chunkTiles;
    private bool secondOrder;
    private readonly Action<int, int> forwardItem, backwardChunk, reduceBlock;
    private readonly Action<int> runWorker;
    private Action<int, int>? runBody;
    private int nextItem, runItems, reduceChunks;
    private float* reduceTarget;

    // Images left over after the full tiles, when few, run one by one (SingleImage) into slots of their own.
    private readonly PinnedBuffer<float> slots;
    private readonly SingleImage.Scratch[] imageScratch;
    private readonly int singleImageLimit;
    private int looseTile = -1, tileItems;
    private const int SlotInput = 0, SlotC1 = 1024, SlotS2 = SlotC1 + TileLayout.C1, SlotC3 = SlotS2 + TileLayout.S2,
        SlotS4 = SlotC3 + TileLayout.C3, SlotC5 = SlotS4 + TileLayout.S4, SlotF6 = SlotC5 + TileLayout.C5,
        SlotLogits = SlotF6 + TileLayout.F6, SlotFloats = (SlotLogits + TileLayout.Logits + 15) & ~15;

    /// <param name="singleImageLimit">Leftover images up to this many run one by one; more fill a partial tile.</param>
    public TileEngine(int capacity, int threads, int singleImageLimit)
    {
        this.singleImageLimit = Math.Min(singleImageLimit, L - 1);
        this.threads = threads;
        tiles = (capacity + L - 1) / L;
        parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        long t = (long)tiles * L;
        input = new(t * TileLayout.Input);
        c1 = new(t * TileLayout.C1);
        s2 = new(t * TileLayout.S2);
        c3 = new(t * TileLayout.C3);
        s4 = new(t * TileLayout.S4);
        c5 = new(t * TileLayout.C5);
        f6 = new(t * TileLayout.F6);
        logits = new(t * TileLayout.Logits);
        probabilities = new(t * SoftmaxTiles.Classes);
        predictions = new(t);
        c3Rows = ConvolutionTaps.Rows(16, 6, 14, ConvolutionTaps.TableI, L);
        workers = new Worker[threads];
        for (int w = 0; w < threads; w++) workers[w] = new Worker();
        squaredWeights = new(P.Length);
        chunkSums = new((long)Math.Min(MaxChunks, tiles) * ChunkStride);
        forwardItem = ForwardItem;
        backwardChunk = BackwardChunk;
        reduceBlock = ReduceBlock;
        runWorker = RunWorker;
        slots = new((long)Math.Min(this.singleImageLimit, capacity) * SlotFloats);
        imageScratch = new SingleImage.Scratch[this.singleImageLimit > 0 ? threads : 0];
        for (int w = 0; w < imageScratch.Length; w++) imageScratch[w] = new SingleImage.Scratch();
    }

    public int Lanes => L;
    public float* Probabilities => probabilities.Pointer;
    public int* Predictions => predictions.Pointer;

    private int TilesFor(int images) => (images + L - 1) / L;

    /// <summary>Runs body(worker, item) for items 0..n−1 on up to <c>threads</c> workers, each item once.</summary>
    private void Run(int n, Action<int, int> body)
    {
        int active = Math.Min(threads, n);
        if (active <= 1)
        {
            for (int i = 0; i < n; i++) body(0, i);
            return;
        }
        // Items are handed out one at a time; which worker runs which item never changes a result.
        nextItem = -1;
        runItems = n;
        runBody = body;
        Parallel.For(0, active, parallel, runWorker);
        runBody = null;
    }

    private void RunWorker(int worker)
    {
        for (int i = Interlocked.Increment(ref nextItem); i < runItems; i = Interlocked.Increment(ref nextItem))
            runBody!(worker, i);
    }

    // ---------------------------------------------------------------- forward

    public void Forward(float* parameters, Squashing squashing, OutputLayer output, float* images, byte* mnist, int count)
    {
        this.parameters = parameters;
        this.squashing = squashing;
        this.output = output;
        this.images = images;
        this.mnist = mnist;
        this.count = count;
        int full = count / L, left = count - full * L;
        bool single = left > 0 && left <= singleImageLimit;
        looseTile = single ? full : -1;
        tileItems = single ? full : TilesFor(count);
        Run(tileItems + (single ? left : 0), forwardItem);
        this.images = null;
        this.mnist = null;
    }

    /// <summary>Item i: a tile while i &lt; tileItems, else one leftover image of the loose tile.</summary>
    private void ForwardItem(int worker, int item)
    {
        if (item >= tileItems)
        {
            ForwardImage(worker, looseTile * L + item - tileItems);
            return;
        }
        int tile = item, valid = Math.Min(L, count - tile * L);
        float* x = input.Pointer + (long)tile * TileLayout.Input * L;
        if (images != null) StageFloats(images + (long)tile * L * TileLayout.Input, valid, x);
        else StageMnist(mnist + (long)tile * L * 784, valid, x);
        ForwardTile(tile, valid);
    }

    private void ForwardImage(int worker, int n)
    {
        float* slot = slots.Pointer + (long)(n - looseTile * L) * SlotFloats;
        if (images != null) new ReadOnlySpan<float>(images + (long)n * TileLayout.Input, TileLayout.Input).CopyTo(new Span<float>(slot, TileLayout.Input));
        else CpuNetwork.ConvertMnist(new ReadOnlySpan<byte>(mnist + (long)n * 784, 784), new Span<float>(slot, TileLayout.Input));
        var outputs = new SingleImage.Outputs(slot + SlotInput, slot + SlotC1, slot + SlotS2, slot + SlotC3, slot + SlotS4,
            slot + SlotC5, slot + SlotF6, slot + SlotLogits, probabilities.Pointer + (long)n * SoftmaxTiles.Classes, predictions.Pointer + n);
        SingleImage.Forward<TS, TV>(parameters, squashing, output, imageScratch[worker], outputs);
    }

    /// <summary>
    /// Brings the loose tile into the tile layout (its inputs from the slots, other lanes zero) and runs the tile
    /// forward on it, so that the backward pass sees one layout. Its outputs replace the one-by-one results.
    /// </summary>
    private void TileLooseImages()
    {
        int tile = looseTile, valid = count - tile * L;
        float* x = input.Pointer + (long)tile * TileLayout.Input * L;
        for (int e = 0; e < TileLayout.Input; e++)
            for (int n = 0; n < L; n++)
                x[e * L + n] = n < valid ? slots.Pointer[(long)n * SlotFloats + SlotInput + e] : 0f;
        ForwardTile(tile, valid);
        looseTile = -1;
    }

    private void ForwardTile(int tile, int valid)
    {
        float* p = parameters;
        float* x = input.Pointer + (long)tile * TileLayout.Input * L;
        float* a1 = c1.Pointer + (long)tile * TileLayout.C1 * L;
        float* a2 = s2.Pointer + (long)tile * TileLayout.S2 * L;
        float* a3 = c3.Pointer + (long)tile * TileLayout.C3 * L;
        float* a4 = s4.Pointer + (long)tile * TileLayout.S4 * L;
        float* a5 = c5.Pointer + (long)tile * TileLayout.C5 * L;
        float* a6 = f6.Pointer + (long)tile * TileLayout.F6 * L;
        float* a7 = logits.Pointer + (long)tile * TileLayout.Logits * L;

        ConvolutionTiles.ForwardC1<TS, TV>(x, a1, p + P.C1Weight.Offset, p + P.C1Bias.Offset);
        SubsamplingTiles.Forward<TS, TV>(a1, 6, 14, p + P.S2Coefficient.Offset, p + P.S2Bias.Offset, squashing, a2);
        ConvolutionTiles.ForwardSlide5<TS, TV>(a2, 14, a3, 16, 10, 10, c3Rows, p + P.C3Weight.Offset, p + P.C3Bias.Offset);
        SubsamplingTiles.Forward<TS, TV>(a3, 16, 5, p + P.S4Coefficient.Offset, p + P.S4Bias.Offset, squashing, a4);
        FullyConnectedTiles.Forward<TS, TV>(a4, 400, p + P.C5Weight.Offset, p + P.C5Bias.Offset, 120, true, squashing, a5);
        FullyConnectedTiles.Forward<TS, TV>(a5, 120, p + P.F6Weight.Offset, p + P.F6Bias.Offset, 84, true, squashing, a6);
        FullyConnectedTiles.Forward<TS, TV>(a6, 84, p + P.OutputWeight.Offset, p + P.OutputBias.Offset, 10, false, squashing, a7);
        if (output == OutputLayer.Rbf) RbfTiles.Distances<TS, TV>(a6, a7);
        float* scratch = stackalloc float[SoftmaxTiles.Classes * L];
        SoftmaxTiles.Forward<TS, TV>(a7, valid, probabilities.Pointer + (long)tile * L * SoftmaxTiles.Classes,
            predictions.Pointer + (long)tile * L, scratch);
    }

    /// <summary>
    /// Images [valid][1024] → tile [1024][L]; lanes past the batch get zeros so they stay finite. Image by image:
    /// contiguous reads, stores one vector apart (reading across images, 4 KB apart, is half as fast).
    /// </summary>
    private static void StageFloats(float* source, int valid, float* tile)
    {
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            if (n >= valid)
            {
                for (int e = 0; e < TileLayout.Input; e++) d[e * L] = 0f;
                continue;
            }
            float* s = source + n * TileLayout.Input;
            for (int e = 0; e < TileLayout.Input; e += 4)
            {
                d[e * L] = s[e];
                d[(e + 1) * L] = s[e + 1];
                d[(e + 2) * L] = s[e + 2];
                d[(e + 3) * L] = s[e + 3];
            }
        }
    }

    /// <summary>
    /// MNIST bytes [valid][28·28] → tile [1024][L], as <see cref="Kernels.InputKernels.FromMnistBytes"/>: a 2-pixel
    /// border of background, ink v → −0.1 + 1.275·v/255.
    /// </summary>
    private static void StageMnist(byte* source, int valid, float* tile)
    {
        const float background = Architecture.Background, range = 1.275f / 255f;
        for (int n = 0; n < L; n++)
        {
            float* d = tile + n;
            byte* s = source + n * 784;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    int sy = y - 2, sx = x - 2;
                    d[(y * 32 + x) * L] = n >= valid ? 0f
                        : sy is >= 0 and < 28 && sx is >= 0 and < 28 ? background + range * s[sy * 28 + sx]
                        : background;
                }
        }
    }

    public void CopyActivations(CpuLayer layer, int count, float* destination)
    {
        var (elements, _, _) = TileLayout.Shape(layer);
        int slotOffset = layer switch
        {
            CpuLayer.Input => SlotInput,
            CpuLayer.C1 => SlotC1,
            CpuLayer.S2 => SlotS2,
            CpuLayer.C3 => SlotC3,
            CpuLayer.S4 => SlotS4,
            CpuLayer.C5 => SlotC5,
            CpuLayer.F6 => SlotF6,
            _ => SlotLogits,
        };
        float* source = layer switch
        {
            CpuLayer.Input => input.Pointer,
            CpuLayer.C1 => c1.Pointer,
            CpuLayer.S2 => s2.Pointer,
            CpuLayer.C3 => c3.Pointer,
            CpuLayer.S4 => s4.Pointer,
            CpuLayer.C5 => c5.Pointer,
            CpuLayer.F6 => f6.Pointer,
            _ => logits.Pointer,
        };
        for (int n = 0; n < count; n++)
        {
            if (n / L == looseTile)
            {
                new ReadOnlySpan<float>(slots.Pointer + (long)(n % L) * SlotFloats + slotOffset, elements)
                    .CopyTo(new Span<float>(destination + (long)n * elements, elements));
                continue;
            }
            float* tile = source + (long)(n / L) * elements * L + n % L;
            float* d = destination + (long)n * elements;
            for (int e = 0; e < elements; e++) d[e] = tile[e * L];
        }
    }

    // ---------------------------------------------------------------- backward

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

        int batchTiles = TilesFor(count);
        chunkTiles = (batchTiles + MaxChunks - 1) / MaxChunks;
        int chunks = (batchTiles + chunkTiles - 1) / chunkTiles;
        Run(chunks, backwardChunk);
        ReduceChunks(chunks, gradients);

        lossSum = 0;
        correct = 0;
        for (int c = 0; c < chunks; c++)
        {
            lossSum += chunkLoss[c];
            correct += chunkCorrect[c];
        }
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
        var s = workers[worker];
        s.Reset();
        float* sums = chunkSums.Pointer + (long)chunk * ChunkStride + ChunkOrigin;
        double loss = 0;
        int correct = 0;
        int first = chunk * chunkTiles, end = Math.Min(first + chunkTiles, TilesFor(backwardCount));
        for (int tile = first; tile < end; tile++)
            BackwardTile(s, tile, tile == first, sums, ref loss, ref correct);
        s.WriteSums(sums, output == OutputLayer.Rbf);
        chunkLoss[chunk] = loss;
        chunkCorrect[chunk] = correct;
    }

    /// <param name="first">The chunk's first tile: the dense weight gradients are assigned, not added.</param>
    /// <param name="sums">The chunk's sums, flat layout: C5's weight gradient accumulates there directly.</param>
    private void BackwardTile(Worker s, int tile, bool first, float* sums, ref double loss, ref int correct)
    {
        int valid = Math.Min(L, backwardCount - tile * L);
        bool so = secondOrder;
        var sq = squashing;
        float* w = weightsForInput;
        float* x = input.Pointer + (long)tile * TileLayout.Input * L;
        float* a1 = c1.Pointer + (long)tile * TileLayout.C1 * L;
        float* a2 = s2.Pointer + (long)tile * TileLayout.S2 * L;
        float* a3 = c3.Pointer + (long)tile * TileLayout.C3 * L;
        float* a4 = s4.Pointer + (long)tile * TileLayout.S4 * L;
        float* a5 = c5.Pointer + (long)tile * TileLayout.C5 * L;
        float* a6 = f6.Pointer + (long)tile * TileLayout.F6 * L;
        float* acc = s.Lanes.Pointer;

        if (output == OutputLayer.Rbf)
        {
            // OUTPUT: RBF units and the MAP loss; fixed centres, so only F6's gradient.
            RbfTiles.Backward(L, valid, backwardCount, so, mapJ, logits.Pointer + (long)tile * TileLayout.Logits * L, a6,
                parameters + P.OutputWeight.Offset, predictions.Pointer + (long)tile * L, labels + tile * L, s.DF6.Pointer, ref loss, ref correct);
        }
        else
        {
            SoftmaxTiles.Backward(L, valid, backwardCount, so, probabilities.Pointer + (long)tile * L * SoftmaxTiles.Classes,
                predictions.Pointer + (long)tile * L, labels + tile * L, s.DLogits.Pointer, ref loss, ref correct);

            // OUTPUT 84 → 10 (identity)
            FullyConnectedTiles.Transpose<TS, TV>(a6, 84, so, s.F6T.Pointer, Worker.F6Columns);
            FullyConnectedTiles.WeightGradient<TS, TV>(s.DLogits.Pointer, Worker.OutputRows, s.F6T.Pointer, Worker.F6Columns, s.OutputWeight.Pointer, !first);
            FullyConnectedTiles.Accumulate<TS, TV>(s.DLogits.Pointer, 10, acc + Worker.AccOutputBias * L);
            FullyConnectedTiles.InputGradient<TS, TV>(s.DLogits.Pointer, 10, w + P.OutputWeight.Offset, 84, s.DF6.Pointer);
        }

        // F6 120 → 84 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DF6.Pointer, a6, 84, sq, so);
        FullyConnectedTiles.Transpose<TS, TV>(a5, 120, so, s.C5T.Pointer, Worker.C5Columns);
        FullyConnectedTiles.WeightGradient<TS, TV>(s.DF6.Pointer, 84, s.C5T.Pointer, Worker.C5Columns, s.F6Weight.Pointer, !first);
        FullyConnectedTiles.Accumulate<TS, TV>(s.DF6.Pointer, 84, acc + Worker.AccF6Bias * L);
        FullyConnectedTiles.InputGradient<TS, TV>(s.DF6.Pointer, 84, w + P.F6Weight.Offset, 120, s.DC5.Pointer);

        // C5 16@5x5 → 120 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DC5.Pointer, a5, 120, sq, so);
        FullyConnectedTiles.Transpose<TS, TV>(a4, 400, so, s.S4T.Pointer, Worker.S4Columns);
        FullyConnectedTiles.WeightGradient<TS, TV>(s.DC5.Pointer, 120, s.S4T.Pointer, Worker.S4Columns, sums + P.C5Weight.Offset, !first);
        FullyConnectedTiles.Accumulate<TS, TV>(s.DC5.Pointer, 120, acc + Worker.AccC5Bias * L);
        FullyConnectedTiles.InputGradient<TS, TV>(s.DC5.Pointer, 120, w + P.C5Weight.Offset, 400, s.DS4.Pointer);

        // S4 16@10x10 → 16@5x5 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DS4.Pointer, a4, 400, sq, so);
        float* dC3 = s.DC3.Pointer;
        SubsamplingTiles.Backward<TS, TV>(s.DS4.Pointer, a3, 16, 5, w + P.S4Coefficient.Offset, so,
            acc + Worker.AccS4Coefficient * L, acc + Worker.AccS4Bias * L, dC3, 10, 100);

        // C3 6@14x14 → 16@10x10 (identity; Table I)
        for (int k = 0; k < C3Pairs.Length; k++)
            ConvolutionTiles.WeightGradient<TS, TV>(dC3 + C3Pairs[k].Output * 100 * L, 10, 10, 10, a2 + C3Pairs[k].Input * 196 * L, 14, so,
                acc + (Worker.AccC3Weight + k * 25) * L);
        for (int o = 0; o < 16; o++)
            ConvolutionTiles.SumPixels<TS, TV>(dC3 + o * 100 * L, 10, 10, 10, acc + (Worker.AccC3Bias + o) * L);
        ConvolutionTiles.InputGradientC3<TS, TV>(dC3, w + P.C3Weight.Offset, C3OutputsOf.Start, C3OutputsOf.Outputs, s.DS2.Pointer);

        // S2 6@28x28 → 6@14x14 (squashed)
        FullyConnectedTiles.SquashBackward<TS, TV>(s.DS2.Pointer, a2, TileLayout.S2, sq, so);
        SubsamplingTiles.Backward<TS, TV>(s.DS2.Pointer, a1, 6, 14, w + P.S2Coefficient.Offset, so,
            acc + Worker.AccS2Coefficient * L, acc + Worker.AccS2Bias * L, s.DC1.Pointer, 28, 28 * 28);

        // C1 1@32x32 → 6@28x28 (identity); the input needs no gradient.
        for (int o = 0; o < 6; o++)
        {
            float* dOut = s.DC1.Pointer + o * 784 * L;
            ConvolutionTiles.WeightGradient<TS, TV>(dOut, 28, 28, 28, x, 32, so, acc + (Worker.AccC1Weight + o * 25) * L);
            ConvolutionTiles.SumPixels<TS, TV>(dOut, 28, 28, 28, acc + (Worker.AccC1Bias + o) * L);
        }
    }

    private const int ReduceBlockLength = 4096;

    /// <summary>gradients[k] = Σ_chunks sum[c][k], chunk by chunk in order, split over the workers by k.</summary>
    private void ReduceChunks(int chunks, float* gradients)
    {
        if (threads <= 1 || chunks == 1)
        {
            AddChunks(chunkSums.Pointer + ChunkOrigin, chunks, 0, P.Length, gradients);
            return;
        }
        reduceChunks = chunks;
        reduceTarget = gradients;
        Run((P.Length + ReduceBlockLength - 1) / ReduceBlockLength, reduceBlock);
        reduceTarget = null;
    }

    private void ReduceBlock(int worker, int block) =>
        AddChunks(chunkSums.Pointer + ChunkOrigin, reduceChunks, block * ReduceBlockLength,
            Math.Min(P.Length, (block + 1) * ReduceBlockLength), reduceTarget);

    private static void AddChunks(float* sums, int chunks, int from, int to, float* gradients)
    {
        int k = from;
        for (; k + L <= to; k += L)
        {
            TV total = TS.Load(sums + k);
            for (int c = 1; c < chunks; c++) total = TS.Add(total, TS.Load(sums + (long)c * ChunkStride + k));
            TS.Store(gradients + k, total);
        }
        for (; k < to; k++)
        {
            float total = sums[k];
            for (int c = 1; c < chunks; c++) total += sums[(long)c * ChunkStride + k];
            gradients[k] = total;
        }
    }

    /// <summary>Per S2 map, the C3 maps it feeds (compressed rows).</summary>
    private static (int[] Start, int[] Outputs) BuildC3OutputsOf()
    {
        var start = new int[7];
        var outputs = new List<int>();
        for (int i = 0; i < 6; i++)
        {
            for (int o = 0; o < 16; o++)
                if (ConnectionTable.IsConnected(o, i)) outputs.Add(o);
            start[i + 1] = outputs.Count;
        }
        return (start, outputs.ToArray());
    }

    /// <summary>Table I's connections (C3 map, S2 map), C3 map by C3 map.</summary>
    private static (int, int)[] BuildC3Pairs()
    {
        var pairs = new List<(int, int)>();
        for (int o = 0; o < 16; o++)
            for (int i = 0; i < 6; i++)
                if (ConnectionTable.IsConnected(o, i)) pairs.Add((o, i));
        return pairs.ToArray();
    }

    /// <summary>
    /// One worker's backward buffers: activation gradients of one tile, the image-major copies the dense weight
    /// gradients read, and the chunk's parameter-gradient accumulators — per-lane vectors for the small tensors
    /// (summed over lanes once per chunk), float rows for F6's and OUTPUT's weights (already summed over images).
    /// </summary>
    private sealed class Worker
    {
        public const int OutputRows = 12;                     // OUTPUT's 10 rows padded to a multiple of 4
        public const int F6Columns = 96, C5Columns = 128, S4Columns = 400; // image-major rows, padded to 16

        // Offsets (in vectors) of the per-lane accumulators.
        // C3's weights by connection: pair k of C3Pairs (Table I's 60 connections) at AccC3Weight + 25·k.
        public const int AccC1Weight = 0, AccC1Bias = 150, AccS2Coefficient = 156, AccS2Bias = 162,
            AccC3Weight = 168, AccC3Bias = AccC3Weight + 60 * 25, AccS4Coefficient = AccC3Bias + 16, AccS4Bias = AccS4Coefficient + 16,
            AccC5Bias = AccS4Bias + 16, AccF6Bias = AccC5Bias + 120, AccOutputBias = AccF6Bias + 84, AccVectors = AccOutputBias + 10;

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
            for (int k = 0; k < C3Pairs.Length; k++)
                FoldLanes(acc + (AccC3Weight + k * 25) * L, 25, g + P.C3Weight.Offset + (C3Pairs[k].Output * 6 + C3Pairs[k].Input) * 25);
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
}

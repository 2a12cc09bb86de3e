using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The backward pass's per-chunk results — parameter-gradient sums in the flat parameter layout, loss and
/// correct count — and their reduction, chunk by chunk in order, so the batch's gradient does not depend on
/// which worker ran which chunk.
/// </summary>
internal sealed unsafe class ChunkSums<TS, TV> where TS : struct, ISimd<TV> where TV : struct
{
    /// <summary>At most this many chunk sums per batch: bounds their memory (and the final reduction) at any batch size.</summary>
    public const int MaxChunks = 16;

    private static readonly int L = TS.Lanes;
    private const int ReduceBlockLength = 4096;

    // Each chunk's sums start ChunkOrigin floats into its stride so that C5's weights (accumulated there by
    // whole vectors) begin on a 64-byte boundary.
    private static readonly int ChunkOrigin = (16 - P.C5Weight.Offset % 16) % 16;
    private static readonly int ChunkStride = (ChunkOrigin + P.Length + 15) & ~15;

    private readonly WorkerPool pool;
    private readonly PinnedBuffer<float> chunkSums;
    private readonly double[] chunkLoss = new double[MaxChunks];
    private readonly int[] chunkCorrect = new int[MaxChunks];
    private readonly Action<int, int> reduceBlock;
    private int reduceChunks;
    private float* reduceTarget;
    private Action<int, int>? reduceUpdate;

    /// <param name="tiles">Tiles the engine holds: no more chunks than that.</param>
    public ChunkSums(int tiles, WorkerPool pool)
    {
        this.pool = pool;
        chunkSums = new((long)Math.Min(MaxChunks, tiles) * ChunkStride);
        reduceBlock = ReduceBlock;
    }

    /// <summary>Chunk c's gradient sums, flat parameter layout.</summary>
    public float* Gradients(int chunk) => chunkSums.Pointer + (long)chunk * ChunkStride + ChunkOrigin;

    public void SetScore(int chunk, double loss, int correct)
    {
        chunkLoss[chunk] = loss;
        chunkCorrect[chunk] = correct;
    }

    /// <summary>
    /// gradients = Σ of the first <paramref name="chunks"/> chunks' gradients; the loss and correct counts summed
    /// likewise. <paramref name="update"/>, when given, is called once for each block [from, to) of the parameters as
    /// soon as its gradients are final, on the worker that summed them (an optimizer step applied there reads them
    /// while they are in that core's cache, and the blocks' steps run in parallel).
    /// </summary>
    public void Reduce(int chunks, float* gradients, Action<int, int>? update, out double lossSum, out int correct)
    {
        reduceUpdate = update;
        ReduceChunks(chunks, gradients);
        reduceUpdate = null;
        lossSum = 0;
        correct = 0;
        for (int c = 0; c < chunks; c++)
        {
            lossSum += chunkLoss[c];
            correct += chunkCorrect[c];
        }
    }

    /// <summary>gradients[k] = Σ_chunks sum[c][k], chunk by chunk in order, split over the workers by k.</summary>
    private void ReduceChunks(int chunks, float* gradients)
    {
        reduceChunks = chunks;
        reduceTarget = gradients;
        int blocks = (P.Length + ReduceBlockLength - 1) / ReduceBlockLength;
        if (pool.Threads <= 1 || (chunks == 1 && reduceUpdate is null))
            for (int b = 0; b < blocks; b++) ReduceBlock(0, b);
        else
            pool.Run(blocks, reduceBlock);
        reduceTarget = null;
    }

    private void ReduceBlock(int worker, int block)
    {
        int from = block * ReduceBlockLength, to = Math.Min(P.Length, (block + 1) * ReduceBlockLength);
        AddChunks(chunkSums.Pointer + ChunkOrigin, reduceChunks, from, to, reduceTarget);
        reduceUpdate?.Invoke(from, to);
    }

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
}

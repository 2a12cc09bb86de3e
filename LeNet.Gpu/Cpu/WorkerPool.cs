namespace LeNet.Gpu.Cpu;

/// <summary>
/// The CPU engine's scheduler: runs body(worker, item) for items 0..n−1 on up to <see cref="Threads"/> workers,
/// each item once. Worker numbers are 0..Threads−1, so a caller can give each worker buffers of its own.
/// A run allocates nothing but the thread pool's bookkeeping: the worker loop is one delegate made here.
/// </summary>
internal sealed class WorkerPool
{
    private readonly ParallelOptions parallel;
    private readonly Action<int> runWorker;
    private Action<int, int>? runBody;
    private int nextItem, runItems;

    public WorkerPool(int threads)
    {
        Threads = threads;
        parallel = new ParallelOptions { MaxDegreeOfParallelism = threads };
        runWorker = RunWorker;
    }

    public int Threads { get; }

    public void Run(int n, Action<int, int> body)
    {
        int active = Math.Min(Threads, n);
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
}

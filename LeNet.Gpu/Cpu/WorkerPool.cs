using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// The CPU engine's scheduler: runs body(worker, item) for items 0..n−1 on up to <see cref="Threads"/> workers,
/// each item once. Worker numbers are 0..Threads−1, so a caller can give each worker buffers of its own.
/// Worker 0 is the thread calling <see cref="Run"/>; workers 1..Threads−1 are background threads of this pool's own,
/// which after a run spin for <see cref="SpinMicroseconds"/> waiting for the next (a training step's phases follow
/// each other within microseconds) and then sleep, so an idle engine takes no CPU. A run allocates nothing.
/// Run is not re-entrant and must be called from one thread at a time (the engine does so). The threads end on
/// <see cref="Dispose"/>, or when the pool is collected.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle worker (and the caller, waiting for the workers) spins before it sleeps. Waking a
    /// sleeping thread took 35–150 µs on a 2-vCPU Zen 3 VM (2026-12-07); a 50 µs spin lost to Parallel.For where runs
    /// were 100 µs apart, 250 µs did not (kernels.md, the batch-64 backward).</summary>
    public const int SpinMicroseconds = 250;

    private readonly Crew? crew; // what the threads hold: never this object, so that an unreferenced pool is collected

    public WorkerPool(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = threads;
        if (threads > 1) crew = new Crew(threads);
    }

    ~WorkerPool() => crew?.Stop();

    public int Threads { get; }

    /// <summary>The pool's own threads (workers 1..Threads−1), for tests.</summary>
    internal IReadOnlyList<Thread> WorkerThreads => crew?.Threads ?? [];

    /// <summary>Runs body(worker, item) for every item in 0..n−1 and returns when all are done. An exception thrown
    /// by a body (the first, where several throw) is rethrown here once every worker has stopped; the items not yet
    /// started are then skipped, and the pool stays usable.</summary>
    public void Run(int n, Action<int, int> body)
    {
        ObjectDisposedException.ThrowIf(crew is { Stopped: true }, this);
        if (crew is null || n <= 1)
        {
            for (int i = 0; i < n; i++) body(0, i);
            return;
        }
        crew.Run(n, body);
    }

    public void Dispose()
    {
        crew?.Stop();
        GC.SuppressFinalize(this);
    }

    /// <summary>The threads and the run they share.</summary>
    private sealed class Crew
    {
        private static readonly long SpinTicks = Stopwatch.Frequency * SpinMicroseconds / 1_000_000;

        public readonly Thread[] Threads;
        private readonly object wake = new(), done = new();

        // A run: the caller opens it (generation changes, open = 1), runs items itself, closes it (open = 0) when no
        // item is left to start, and waits until no worker is busy in it. A worker counts itself busy before it
        // looks whether a run is open, so the caller never waits for a worker that has not woken yet: that worker
        // finds the run closed, and the caller has run its items. Each store-then-load pair between threads
        // (open / busy, generation / sleepers, busy / callerWaiting) is Interlocked, a full fence, so neither side
        // misses the other's store.
        private int generation, open, busy, sleepers, callerWaiting;
        private int nextItem, items;
        private Action<int, int>? body;
        private ExceptionDispatchInfo? failure;
        private volatile bool stopped;

        public Crew(int threads)
        {
            Threads = new Thread[threads - 1];
            for (int w = 1; w < threads; w++)
            {
                int worker = w;
                Threads[w - 1] = new Thread(() => Work(worker)) { IsBackground = true, Name = $"LeNet CPU worker {worker}" };
                Threads[w - 1].Start();
            }
        }

        public bool Stopped => stopped;

        public void Run(int n, Action<int, int> runBody)
        {
            body = runBody;
            items = n;
            nextItem = -1;
            failure = null;
            Interlocked.Exchange(ref open, 1);
            Interlocked.Increment(ref generation);
            if (Volatile.Read(ref sleepers) > 0)
                lock (wake) Monitor.PulseAll(wake);

            RunItems(0);
            Interlocked.Exchange(ref open, 0);
            WaitForWorkers();
            body = null; // the pool holds no engine between runs
            ExceptionDispatchInfo? thrown = failure;
            failure = null;
            thrown?.Throw();
        }

        public void Stop()
        {
            if (stopped) return;
            stopped = true;
            Interlocked.Increment(ref generation);
            lock (wake) Monitor.PulseAll(wake);
        }

        private void RunItems(int worker)
        {
            // Items are handed out one at a time; which worker runs which item never changes a result.
            try
            {
                for (int i = Interlocked.Increment(ref nextItem); i < items; i = Interlocked.Increment(ref nextItem))
                    body!(worker, i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                Interlocked.Exchange(ref nextItem, items); // the others take no further item
            }
        }

        private void WaitForWorkers()
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref busy) != 0)
            {
                if (Stopwatch.GetTimestamp() - start < SpinTicks)
                {
                    Thread.SpinWait(8);
                    continue;
                }
                lock (done)
                {
                    Interlocked.Exchange(ref callerWaiting, 1);
                    while (Volatile.Read(ref busy) != 0) Monitor.Wait(done);
                    Interlocked.Exchange(ref callerWaiting, 0);
                }
            }
        }

        private void Work(int worker)
        {
            int seen = 0;
            while (true)
            {
                long start = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref generation) == seen && Stopwatch.GetTimestamp() - start < SpinTicks)
                    Thread.SpinWait(8);
                if (Volatile.Read(ref generation) == seen)
                {
                    lock (wake)
                    {
                        Interlocked.Increment(ref sleepers);
                        while (Volatile.Read(ref generation) == seen) Monitor.Wait(wake);
                        Interlocked.Decrement(ref sleepers);
                    }
                }
                if (stopped) return;
                seen = Volatile.Read(ref generation);
                Interlocked.Increment(ref busy);
                if (Volatile.Read(ref open) != 0) RunItems(worker); // whichever run is open now: items are the run's
                if (Interlocked.Decrement(ref busy) == 0 && Volatile.Read(ref callerWaiting) != 0)
                    lock (done) Monitor.PulseAll(done);
            }
        }
    }
}

using System.Runtime.CompilerServices;
using LeNet.Gpu.Cpu;
using Xunit;

namespace LeNet.Gpu.Tests.Cpu;

/// <summary>The CPU engine's scheduler: each item once, on a worker in range, exceptions to the caller, threads that end.</summary>
public class WorkerPoolTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Every_item_runs_exactly_once_on_a_worker_in_range(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads - 1, pool.WorkerThreads.Count);
        foreach (int n in new[] { 0, 1, 2, 7, 1000 })
        {
            var runs = new int[n];
            int outOfRange = 0;
            pool.Run(n, (worker, item) =>
            {
                if (worker < 0 || worker >= threads) Interlocked.Increment(ref outOfRange);
                Interlocked.Increment(ref runs[item]);
            });
            Assert.Equal(0, outOfRange);
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void Items_run_at_once_on_the_caller_and_the_pools_thread()
    {
        using var pool = new WorkerPool(2);
        var started = new CountdownEvent(2);
        var threads = new Thread[2];
        var workers = new int[2];
        bool allStarted = true;
        // Each item waits for the other to start: only two threads at once finish this.
        pool.Run(2, (worker, item) =>
        {
            threads[item] = Thread.CurrentThread;
            workers[item] = worker;
            started.Signal();
            if (!started.Wait(Patience)) allStarted = false;
        });
        Assert.True(allStarted, "the two items did not run at the same time");
        Assert.Equal([0, 1], workers.Order());
        Assert.Contains(Thread.CurrentThread, threads);
        Assert.Contains(pool.WorkerThreads[0], threads);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void An_exception_reaches_the_caller_and_the_pool_stays_usable(int throwingWorker)
    {
        using var pool = new WorkerPool(2);
        using var thrown = new ManualResetEventSlim();
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(100, (worker, item) =>
        {
            // The other worker waits until this one has thrown, so that the throwing worker surely takes an item.
            if (worker == throwingWorker)
            {
                thrown.Set();
                throw new InvalidOperationException($"item {item} failed on worker {worker}");
            }
            thrown.Wait(Patience);
        }));
        Assert.EndsWith($"on worker {throwingWorker}", error.Message);
        Assert.Contains(nameof(An_exception_reaches_the_caller_and_the_pool_stays_usable), error.StackTrace);

        var runs = new int[50];
        pool.Run(runs.Length, (_, item) => Interlocked.Increment(ref runs[item]));
        Assert.All(runs, r => Assert.Equal(1, r));
    }

    [Fact]
    public void Many_runs_in_a_row_each_finish_before_run_returns()
    {
        using var pool = new WorkerPool(3);
        var runs = new int[64];
        for (int r = 0; r < 20_000; r++)
        {
            int n = 2 + r % 63;
            pool.Run(n, (_, item) => Interlocked.Increment(ref runs[item]));
            // Every item of this run is counted by the time Run returns.
            for (int i = 0; i < n; i++)
                if (runs[i] != 1) Assert.Fail($"run {r}: item {i} ran {runs[i]} times before Run returned");
            Array.Clear(runs);
            // Now and then the workers outwait their spin and sleep: the next run must wake them.
            if (r % 2000 == 0) Thread.Sleep(5);
        }
    }

    [Fact]
    public void A_run_allocates_nothing_on_the_calling_thread()
    {
        using var pool = new WorkerPool(2);
        var sums = new long[2];
        Action<int, int> body = (worker, item) => Interlocked.Add(ref sums[worker], item);
        for (int r = 0; r < 100; r++) pool.Run(16, body); // warm: JIT, sync blocks
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < 1000; r++)
        {
            pool.Run(16, body);
            if (r % 100 == 0) Thread.Sleep(1); // the sleeping workers' wake too
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1100 * 120, sums[0] + sums[1]);
    }

    [Fact]
    public void Dispose_ends_the_threads()
    {
        var pool = new WorkerPool(3);
        pool.Run(10, (_, _) => { });
        var threads = pool.WorkerThreads.ToArray();
        Assert.All(threads, t => Assert.True(t.IsAlive && t.IsBackground));
        pool.Dispose();
        Assert.All(threads, t => Assert.True(t.Join(Patience), $"{t.Name} still running after Dispose"));
        Assert.Throws<ObjectDisposedException>(() => pool.Run(10, (_, _) => { }));
    }

    [Fact]
    public void A_collected_pool_ends_its_threads()
    {
        var threads = RunAndDropPool();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.All(threads, t => Assert.True(t.Join(Patience), $"{t.Name} still running after its pool was collected"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Thread[] RunAndDropPool()
    {
        var pool = new WorkerPool(3);
        pool.Run(10, (_, _) => { });
        return pool.WorkerThreads.ToArray();
    }
}

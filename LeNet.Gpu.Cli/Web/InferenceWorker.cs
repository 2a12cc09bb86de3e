using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Cli.Web;

/// <summary>
/// One inference engine (batch of one) owned by one thread. Engines are not thread-safe, and a GPU context is
/// bound to the thread that made it, so every request's trace is queued to that thread and run one at a time;
/// callers await their result without holding a thread-pool thread.
/// </summary>
public sealed class InferenceWorker : IDisposable
{
    /// <summary>Requests waiting beyond this many are refused (503) rather than queued without bound.</summary>
    public const int QueueLimit = 64;

    private sealed record Job(float[] Input, TaskCompletionSource<FeatureMaps> Result, CancellationToken Cancellation);

    private readonly BlockingCollection<Job> queue = new(QueueLimit);
    private readonly Thread thread;

    public DeviceDescription Device { get; }

    /// <summary>Opens the device and builds the engine on the worker thread; its failure is thrown here.</summary>
    public InferenceWorker(LeNetModel model, DeviceKind device)
    {
        var ready = new TaskCompletionSource<DeviceDescription>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread = new Thread(() => Serve(model, device, ready)) { IsBackground = true, Name = "lenet inference" };
        thread.Start();
        try
        {
            Device = ready.Task.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            thread.Join();
            ExceptionDispatchInfo.Capture(e).Throw();
            throw; // unreachable: Throw() does not return
        }
    }

    /// <summary>Every layer's output for one prepared 32×32 image (the paper's scale).</summary>
    /// <exception cref="ServerBusyException">The queue is full.</exception>
    public Task<FeatureMaps> TraceAsync(float[] input, CancellationToken cancellation = default)
    {
        if (input.Length != Architecture.InputLength)
            throw new ArgumentException($"expected one 32×32 image ({Architecture.InputLength} values), got {input.Length}");
        var job = new Job(input, new TaskCompletionSource<FeatureMaps>(TaskCreationOptions.RunContinuationsAsynchronously), cancellation);
        try
        {
            if (!queue.TryAdd(job)) throw new ServerBusyException($"{QueueLimit} requests are already waiting");
        }
        catch (InvalidOperationException) // added after CompleteAdding: the server is stopping
        {
            throw new ServerBusyException("the server is shutting down");
        }
        return job.Result.Task;
    }

    private void Serve(LeNetModel model, DeviceKind device, TaskCompletionSource<DeviceDescription> ready)
    {
        IInferenceEngine engine;
        try
        {
            engine = Engines.CreateInferenceFor(model, 1, device);
        }
        catch (Exception e)
        {
            ready.SetException(e);
            return;
        }
        using (engine)
        {
            ready.SetResult(engine.Device);
            foreach (var job in queue.GetConsumingEnumerable())
            {
                // A client that went away while queued costs nothing.
                if (job.Cancellation.IsCancellationRequested)
                {
                    job.Result.TrySetCanceled(job.Cancellation);
                    continue;
                }
                try
                {
                    job.Result.TrySetResult(FeatureMaps.From(engine.Trace(job.Input)));
                }
                catch (Exception e)
                {
                    job.Result.TrySetException(e);
                }
            }
        }
    }

    /// <summary>Lets queued requests finish, then frees the engine and its device.</summary>
    public void Dispose()
    {
        queue.CompleteAdding();
        thread.Join();
        queue.Dispose();
    }
}

/// <summary>The inference queue is full or closing: the client may try again (503).</summary>
public sealed class ServerBusyException(string message) : Exception(message);

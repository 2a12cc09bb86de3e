namespace LeNet.Gpu.Cli.Web;

/// <summary>
/// Bounds the memory that image decoding can take in <c>lenet serve</c>: at most <see cref="InFlight"/> decodes at
/// once (a 16-megapixel picture needs 16 MB to 80 MB, by format, while it is reduced to 32×32), at most <see cref="Waiting"/>
/// requests waiting for one (the rest are told to retry), a full collection after every
/// <see cref="CollectionPixels"/> pixels decoded (a decode's buffers are garbage as soon as it ends, but in the
/// large-object heap they would otherwise pile up to hundreds of megabytes before the runtime collects them), and,
/// when a burst of large pictures is over, a compacting collection that hands their memory back to the system
/// instead of keeping the process at its peak.
/// </summary>
public sealed class DecodeGate
{
    public const int InFlight = 2, Waiting = 32;

    /// <summary>A decode of at least this many pixels counts as large: its buffers live in the large-object heap.</summary>
    public const long LargePixels = 1L << 20;

    /// <summary>Pixels decoded between two full collections (a 4096×4096 picture: one each).</summary>
    public const long CollectionPixels = 16L << 20;

    private readonly SemaphoreSlim slots = new(InFlight, InFlight);
    private readonly object sync = new();
    private int waiting, running;
    private bool largeSinceCollection;
    private long pixelsSinceCollection;

    /// <summary>Runs <paramref name="decode"/> of a picture of <paramref name="pixels"/> pixels when a slot is free.</summary>
    /// <exception cref="ServerBusyException">Too many requests are already waiting.</exception>
    public async Task<T> RunAsync<T>(long pixels, Func<T> decode, CancellationToken cancellation)
    {
        lock (sync)
        {
            if (waiting >= Waiting) throw new ServerBusyException($"{Waiting} images are already waiting to be decoded");
            waiting++;
        }
        try
        {
            await slots.WaitAsync(cancellation);
        }
        finally
        {
            lock (sync) waiting--;
        }
        lock (sync) running++;
        try
        {
            return decode();
        }
        finally
        {
            bool collect, giveBack;
            lock (sync)
            {
                running--;
                largeSinceCollection |= pixels >= LargePixels;
                giveBack = running == 0 && waiting == 0 && largeSinceCollection;
                pixelsSinceCollection += pixels;
                collect = pixelsSinceCollection >= CollectionPixels;
                if (giveBack || collect) (largeSinceCollection, pixelsSinceCollection) = (false, 0);
            }
            slots.Release();
            // The burst is over: return the decode buffers' pages to the system now, not at some later collection.
            if (giveBack) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            else if (collect) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        }
    }
}

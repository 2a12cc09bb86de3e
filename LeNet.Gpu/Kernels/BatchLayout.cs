namespace LeNet.Gpu.Kernels;

/// <summary>
/// How every kernel sees a batch. Activations and their gradients are stored <b>batch innermost</b>:
/// <code>
/// element (map m, row y, column x, image n)  at  ((m·Size + y)·Size + x)·Stride + n
/// </code>
/// where <c>Stride</c> is the batch capacity the buffers were allocated for and <c>Count ≤ Stride</c> the images
/// in this launch. Neighbouring GPU threads take neighbouring images, so they read neighbouring addresses, while
/// the weight they read is the same for the whole warp (a broadcast). A vector (C5, F6, logits) is Size = 1.
/// </summary>
public readonly record struct BatchShape(int Maps, int Size, int Count, int Stride)
{
    public int Pixels => Size * Size;

    /// <summary>Floats of a buffer holding this tensor for <see cref="Stride"/> images.</summary>
    public long Length => (long)Maps * Pixels * Stride;

    /// <summary>Threads of a launch with one thread per (map, image).</summary>
    public int MapThreads => Maps * Count;

    public int Index(int map, int y, int x, int image) => ((map * Size + y) * Size + x) * Stride + image;
}

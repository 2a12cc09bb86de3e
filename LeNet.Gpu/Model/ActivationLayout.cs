namespace LeNet.Gpu.Model;

/// <summary>
/// Where every layer's output lies when all of them are kept, derived from <see cref="Architecture.Layers"/>: per
/// image, each layer's <see cref="LengthOf(Layer)"/> values at <see cref="OffsetOf(Layer)"/>, the input first and the
/// layers back to back; per tile (or batch) of n images, each layer's block holds n times as many values at n times
/// the offset, however the engine orders images inside a block (image-major or batch-innermost).
/// </summary>
public static class ActivationLayout
{
    private static readonly int[] Offsets = Architecture.Layers
        .Select((_, i) => Architecture.Layers.Take(i).Sum(l => l.Elements)).ToArray();

    /// <summary>Values of every layer's output for one image (the input field included).</summary>
    public static readonly int PerImage = Architecture.Layers.Sum(l => l.Elements);

    /// <summary>
    /// <see cref="PerImage"/> rounded up to a multiple of <paramref name="alignment"/> values: the stride of one-image
    /// records that must each start aligned (the CPU engine's one-image slots start on 16 floats, a 512-bit vector).
    /// </summary>
    public static int PerImageAligned(int alignment) => (PerImage + alignment - 1) / alignment * alignment;

    /// <summary>Values of <paramref name="layer"/>'s output for one image.</summary>
    public static int LengthOf(Layer layer) => Architecture.ElementsOf(layer);

    /// <summary>Where <paramref name="layer"/>'s output starts among one image's activations.</summary>
    public static int OffsetOf(Layer layer) => Offsets[(int)layer];

    /// <summary>Values of <paramref name="layer"/>'s output for a tile of <paramref name="images"/> images.</summary>
    public static long LengthOf(Layer layer, int images) => (long)LengthOf(layer) * images;

    /// <summary>Where <paramref name="layer"/>'s block starts among the activations of a tile of <paramref name="images"/> images.</summary>
    public static long OffsetOf(Layer layer, int images) => (long)OffsetOf(layer) * images;
}

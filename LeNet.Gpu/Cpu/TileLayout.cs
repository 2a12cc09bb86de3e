using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// How the CPU engine stores a batch: in <b>tiles</b> of <c>L</c> images (L = lanes of one hardware vector:
/// 16 for 512-bit, 8 for 256-bit, 4 for 128-bit), back to back, each tile holding every layer's block where
/// <see cref="ActivationLayout"/> puts it for L images, each block <b>lane innermost</b>:
/// <code>
/// element e (map m, row y, column x) of image n's layer output  at  tile (n / L), float  OffsetOf(layer, L) + e·L + n % L
/// Input [1][32][32]  C1 [6][28][28]  S2 [6][14][14]  C3 [16][10][10]  S4 [16][5][5]  C5 [120]  F6 [84]  logits [10]
/// </code>
/// Every layer is then a computation on whole vectors, one image per lane: a weight is broadcast, never
/// gathered, and all 5×5 convolutions, dense layers and their gradients vectorise the same way at any width.
/// Within a block this is the device's batch-innermost layout (<see cref="Kernels.BatchShape"/>) cut into tiles of one vector.
/// </summary>
internal static class TileLayout
{
    /// <summary>Floats of one tile of <paramref name="lanes"/> images: every layer's output.</summary>
    public static long Floats(int lanes) => (long)ActivationLayout.PerImage * lanes;

    /// <summary>Where <paramref name="layer"/>'s block of tile <paramref name="tile"/> starts, [elements][lanes].</summary>
    public static long OffsetOf(Layer layer, int tile, int lanes) => tile * Floats(lanes) + ActivationLayout.OffsetOf(layer, lanes);
}

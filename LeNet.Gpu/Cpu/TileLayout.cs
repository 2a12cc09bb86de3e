using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>
/// How the CPU engine stores a batch: in <b>tiles</b> of <c>L</c> images (L = lanes of one hardware vector:
/// 16 for 512-bit, 8 for 256-bit, 4 for 128-bit), each tile <b>lane innermost</b>:
/// <code>
/// element e (map m, row y, column x) of image n  at  tile (n / L), float  e·L + n % L   within that tile
/// Input [1][32][32]  C1 [6][28][28]  S2 [6][14][14]  C3 [16][10][10]  S4 [16][5][5]  C5 [120]  F6 [84]  logits [10]
/// </code>
/// Every layer is then a computation on whole vectors, one image per lane: a weight is broadcast, never
/// gathered, and all 5×5 convolutions, dense layers and their gradients vectorise the same way at any width.
/// This is the device's batch-innermost layout (<see cref="Kernels.BatchShape"/>) cut into tiles of one vector.
/// </summary>
internal static class TileLayout
{
    /// <summary>Elements of one map of C1, S2, C3 and S4.</summary>
    public const int C1Map = C1Size * C1Size, S2Map = S2Size * S2Size, C3Map = C3Size * C3Size, S4Map = S4Size * S4Size;

    public const int Input = InputLength;
    public const int C1 = C1Maps * C1Map;
    public const int S2 = C1Maps * S2Map;
    public const int C3 = C3Maps * C3Map;
    public const int S4 = C3Maps * S4Map;
    public const int C5 = C5Units;
    public const int F6 = F6Units;
    public const int Logits = Classes;

    /// <summary>Elements per image of a layer, and its (maps, size) for the accessors: the shape table's.</summary>
    public static (int Elements, int Maps, int Size) Shape(Layer layer) =>
        (Architecture.ElementsOf(layer), Architecture.Of(layer).Maps, Architecture.Of(layer).Size);
}

using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// The inference forward pass in three explicitly grouped kernels; each group takes a tile of consecutive images,
/// stages the tile and the layer's parameters in shared memory, and writes only what the next kernel reads:
/// <code>
/// C1S2        images [n][32·32] floats (or [n][28·28] bytes)  →  S2 [n][6][14][14]       C1 never leaves the chip
/// C3S4        S2 [n][6][14][14]                               →  S4 [n][16][5][5]        C3 never leaves the chip
/// C5F6Output  S4 [n][16·5·5]                                  →  probabilities [n][10], predictions [n]
/// </code>
/// C1S2 and C3S4 leave C1 and C3 linear; <c>C1S2SquashedFrom…</c> and <c>C3S4Squashed</c> are the same kernels for
/// models whose C1 and C3 squash their outputs (<see cref="Model.ConvolutionSquashing"/>), entry points of their own
/// over one body each, so the choice costs the linear ones nothing.
/// Every tensor here is <b>image-major</b> (unlike the per-layer kernels' batch-innermost layout): a tile of
/// consecutive images is one contiguous block, so a group loads it with consecutive threads reading consecutive
/// addresses (coalesced) whatever the tile size, and the host's row-major images need no transpose kernel.
/// Parameters are the slices of <see cref="Model.ParameterLayout"/>; the C3 connection mask is consulted before any
/// C3 weight is read, so masked entries have no effect whatever they hold.
/// Arithmetic follows the per-layer kernels term by term (bias first, then inputs in the same order; the 2×2 sum
/// as top-left + top-right + bottom-left + bottom-right), so the two paths differ only where a backend contracts
/// or reorders differently. Group sizes are free (every loop strides by <c>Group.DimX</c>); tiles are constants
/// because shared memory is sized at compile time. kernels.md explains the choices and their costs.
/// </summary>
public static partial class FusedKernels
{
    private const int S2Pixels = S2Size * S2Size, S4Pixels = S4Size * S4Size;

    /// <summary>Images per group and preferred threads per group (on a GPU) of <see cref="C1S2FromFloats"/> / <see cref="C1S2FromBytes"/>.</summary>
    public const int C1S2Tile = 8, C1S2Group = 256;

    /// <summary>Images per group and preferred threads per group of <see cref="C3S4"/>: 8 × 25 S4 positions = 200 items, one pass of 7 warps.</summary>
    public const int C3S4Tile = 8, C3S4Group = 224;

    /// <summary>Images per group and preferred threads per group of <see cref="C5F6Output"/> (C5 has 30 unit quads × 4 image quads = 120 items).</summary>
    public const int DenseTile = 16, DenseGroup = 128;

    // C1S2's shared parameter block: c1.weight [6][25], c1.bias [6], s2.coefficient [6], s2.bias [6].
    private const int C1Bias = C1WeightLength, S2Coefficient = C1Bias + C1Maps, S2Bias = S2Coefficient + S2Maps,
        C1S2Parameters = S2Bias + S2Maps;

    // C3S4's: c3.weight [16][6][25] (dense, masked entries never read), c3.bias, s4.coefficient, s4.bias [16] each.
    private const int C3Bias = C3WeightLength, S4Coefficient = C3Bias + C3Maps, S4Bias = S4Coefficient + S4Maps,
        C3S4Parameters = S4Bias + S4Maps, C3Mask = C3MaskLength;

    // C5F6Output's shared rows. Odd strides (one float past the row) put the rows of neighbouring images in different banks.
    private const int S4Stride = S4Length + 1, C5Stride = C5Units + 1, F6Stride = F6Units + 1, LogitStride = Classes;
    private const int Chunk = 32, ChunkStride = C5Units + 1, ImageQuads = DenseTile / 4;

    /// <summary>Images of the tile starting at <paramref name="first"/> that are part of the batch.</summary>
    private static int Valid(int count, int first, int tile) => count - first < tile ? count - first : tile;

    /// <summary>Six neighbouring inputs of one row: what the 5 taps of a kernel row see for two adjacent outputs.</summary>
    private readonly struct Row6(float x0, float x1, float x2, float x3, float x4, float x5)
    {
        public readonly float X0 = x0, X1 = x1, X2 = x2, X3 = x3, X4 = x4, X5 = x5;

        public static Row6 Load(ArrayView<float> view, int at) =>
            new(view[at], view[at + 1], view[at + 2], view[at + 3], view[at + 4], view[at + 5]);
    }

    /// <summary>One row of a 5×5 kernel.</summary>
    private readonly struct Taps5(float w0, float w1, float w2, float w3, float w4)
    {
        public readonly float W0 = w0, W1 = w1, W2 = w2, W3 = w3, W4 = w4;

        public static Taps5 Load(ArrayView<float> view, int at) =>
            new(view[at], view[at + 1], view[at + 2], view[at + 3], view[at + 4]);
    }

    /// <summary>
    /// The weighted sums of a 2×2 block of convolution outputs (the block one subsampling unit covers):
    /// A top-left, B top-right, C bottom-left, D bottom-right. Held in registers, never in memory.
    /// </summary>
    private readonly struct Quad(float a, float b, float c, float d)
    {
        public readonly float A = a, B = b, C = c, D = d;

        public Quad(float bias) : this(bias, bias, bias, bias) { }

        /// <summary>
        /// The 2×2 sum of the convolution's outputs, each through <paramref name="convolution"/> (identity, or the
        /// squashing function), in the per-layer subsampling kernel's order.
        /// </summary>
        public float Sum(int convolution) => convolution == Squash.Identity
            ? A + B + C + D
            : Squash.Apply(A, convolution) + Squash.Apply(B, convolution) + Squash.Apply(C, convolution) + Squash.Apply(D, convolution);

        /// <summary>
        /// Adds one kernel row: <paramref name="top"/> is the input row under the block's upper outputs,
        /// <paramref name="bottom"/> the row under its lower ones; taps in kx order, one term at a time.
        /// </summary>
        public Quad Add(Taps5 w, Row6 top, Row6 bottom)
        {
            float a = A, b = B, c = C, d = D;
            a += w.W0 * top.X0; a += w.W1 * top.X1; a += w.W2 * top.X2; a += w.W3 * top.X3; a += w.W4 * top.X4;
            b += w.W0 * top.X1; b += w.W1 * top.X2; b += w.W2 * top.X3; b += w.W3 * top.X4; b += w.W4 * top.X5;
            c += w.W0 * bottom.X0; c += w.W1 * bottom.X1; c += w.W2 * bottom.X2; c += w.W3 * bottom.X3; c += w.W4 * bottom.X4;
            d += w.W0 * bottom.X1; d += w.W1 * bottom.X2; d += w.W2 * bottom.X3; d += w.W3 * bottom.X4; d += w.W4 * bottom.X5;
            return new Quad(a, b, c, d);
        }
    }
}

using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

/// <summary>The fused C1S2 kernels: C1 and S2 for a tile of images, from floats or raw bytes (see <see cref="FusedKernels"/>).</summary>
public static partial class FusedKernels
{
    /// <summary>
    /// C1 (identity) and S2 (squashed) for a tile of float images [n][32·32], row-major, in the model's input scale.
    /// Grid: ⌈count / <see cref="C1S2Tile"/>⌉ groups. Output S2 [n][6][14][14].
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2FromFloats(int count, int activation, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromFloatsWith(count, activation, Squash.Identity, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    /// <summary>
    /// <see cref="C1S2FromFloats"/> for a model whose C1 is squashed (<see cref="Model.ConvolutionSquashing.Squashed"/>):
    /// each C1 output goes through the squashing function before S2 sums it. A kernel of its own, so that the linear
    /// one keeps its registers (a runtime switch cost it 9 of 56 on sm_90, and a quarter of its occupancy).
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2SquashedFromFloats(int count, int activation, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromFloatsWith(count, activation, activation, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    private static void C1S2FromFloatsWith(int count, int activation, int convolution, ArrayView<float> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2)
    {
        var tile = SharedMemory.Allocate<float>(C1S2Tile * InputLength);
        var p = SharedMemory.Allocate<float>(C1S2Parameters);
        int first = Grid.IdxX * C1S2Tile, valid = Valid(count, first, C1S2Tile);
        for (int e = Group.IdxX; e < valid * InputLength; e += Group.DimX)
            tile[e] = images[first * InputLength + e];
        StageC1S2Parameters(p, c1Weight, c1Bias, s2Coefficient, s2Bias);
        Group.Barrier();
        C1S2Compute(tile, p, first, valid, activation, convolution, s2);
    }

    /// <summary>
    /// <see cref="C1S2FromFloats"/> for raw 28×28 bytes [n][784] (MNIST layout), prepared while staging by the input
    /// rule every engine uses (<see cref="InputField.Mnist"/>): a 2-pixel border of background −0.1, ink v → −0.1 + 1.275·v/255.
    /// The device reads 784 bytes per image instead of 4 KB of floats.
    /// </summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2FromBytes(int count, int activation, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromBytesWith(count, activation, Squash.Identity, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    /// <summary><see cref="C1S2FromBytes"/> with C1 squashed (see <see cref="C1S2SquashedFromFloats"/>).</summary>
    [ExplicitlyGroupedKernel(GroupSize = C1S2Group)]
    public static void C1S2SquashedFromBytes(int count, int activation, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2) =>
        C1S2FromBytesWith(count, activation, activation, images, c1Weight, c1Bias, s2Coefficient, s2Bias, s2);

    private static void C1S2FromBytesWith(int count, int activation, int convolution, ArrayView<byte> images,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias,
        ArrayView<float> s2)
    {
        var bytes = new DeviceInkBytes(images);
        var tile = SharedMemory.Allocate<float>(C1S2Tile * InputLength);
        var p = SharedMemory.Allocate<float>(C1S2Parameters);
        int first = Grid.IdxX * C1S2Tile, valid = Valid(count, first, C1S2Tile);
        for (int e = Group.IdxX; e < valid * InputLength; e += Group.DimX)
        {
            int n = e / InputLength, pixel = e - n * InputLength;
            float v = InputField.Mnist(bytes, (first + n) * InputField.MnistLength, pixel % InputField.Size, pixel / InputField.Size);
            tile[e] = v;
        }
        StageC1S2Parameters(p, c1Weight, c1Bias, s2Coefficient, s2Bias);
        Group.Barrier();
        C1S2Compute(tile, p, first, valid, activation, convolution, s2);
    }

    private static void StageC1S2Parameters(ArrayView<float> p,
        ArrayView<float> c1Weight, ArrayView<float> c1Bias, ArrayView<float> s2Coefficient, ArrayView<float> s2Bias)
    {
        for (int e = Group.IdxX; e < C1S2Parameters; e += Group.DimX)
        {
            if (e < C1Bias) p[e] = c1Weight[e];
            else if (e < S2Coefficient) p[e] = c1Bias[e - C1Bias];
            else if (e < S2Bias) p[e] = s2Coefficient[e - S2Coefficient];
            else p[e] = s2Bias[e - S2Bias];
        }
    }

    /// <summary>
    /// One thread per (image, S2 position): the 2×2 block of C1 outputs under that position for all 6 maps
    /// (24 accumulators). Each 6-wide pair of input rows is read once from shared memory and used by all 6 maps;
    /// each weight row is a broadcast (every thread of the group reads the same address). <paramref name="convolution"/>
    /// is what each C1 output goes through before the 2×2 sum: identity, or the squashing function (a constant in each
    /// entry point, folded away by the compiler).
    /// </summary>
    private static void C1S2Compute(ArrayView<float> tile, ArrayView<float> p, int first, int valid, int activation, int convolution,
        ArrayView<float> s2)
    {
        for (int item = Group.IdxX; item < valid * S2Pixels; item += Group.DimX)
        {
            int n = item / S2Pixels, position = item - n * S2Pixels, y = position / S2Size, x = position - y * S2Size;
            // One named accumulator per C1 map (C1Maps = 6), written out so they stay in registers; the numbers are map indices.
            Quad q0 = new(p[C1Bias]), q1 = new(p[C1Bias + 1]), q2 = new(p[C1Bias + 2]);
            Quad q3 = new(p[C1Bias + 3]), q4 = new(p[C1Bias + 4]), q5 = new(p[C1Bias + 5]);
            for (int ky = 0; ky < KernelSize; ky++)
            {
                int row = n * InputLength + (2 * y + ky) * InputSize + 2 * x, taps = ky * KernelSize;
                var top = Row6.Load(tile, row);
                var bottom = Row6.Load(tile, row + InputSize);
                q0 = q0.Add(Taps5.Load(p, taps), top, bottom);
                q1 = q1.Add(Taps5.Load(p, KernelArea + taps), top, bottom);
                q2 = q2.Add(Taps5.Load(p, 2 * KernelArea + taps), top, bottom);
                q3 = q3.Add(Taps5.Load(p, 3 * KernelArea + taps), top, bottom);
                q4 = q4.Add(Taps5.Load(p, 4 * KernelArea + taps), top, bottom);
                q5 = q5.Add(Taps5.Load(p, 5 * KernelArea + taps), top, bottom);
            }
            // Consecutive threads take consecutive positions of one map: the writes are coalesced.
            int at = (first + n) * S2Length + position;
            s2[at] = Squash.Apply(p[S2Coefficient] * q0.Sum(convolution) + p[S2Bias], activation);
            s2[at + 1 * S2Pixels] = Squash.Apply(p[S2Coefficient + 1] * q1.Sum(convolution) + p[S2Bias + 1], activation);
            s2[at + 2 * S2Pixels] = Squash.Apply(p[S2Coefficient + 2] * q2.Sum(convolution) + p[S2Bias + 2], activation);
            s2[at + 3 * S2Pixels] = Squash.Apply(p[S2Coefficient + 3] * q3.Sum(convolution) + p[S2Bias + 3], activation);
            s2[at + 4 * S2Pixels] = Squash.Apply(p[S2Coefficient + 4] * q4.Sum(convolution) + p[S2Bias + 4], activation);
            s2[at + 5 * S2Pixels] = Squash.Apply(p[S2Coefficient + 5] * q5.Sum(convolution) + p[S2Bias + 5], activation);
        }
    }
}

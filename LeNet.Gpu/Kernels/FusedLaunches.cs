using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Kernels;

// The fused kernels' argument structs and launches, beside FusedKernels.cs (a file of their own only for its size).

/// <summary>C1 and S2's parameters as <see cref="FusedKernels.C1S2FromFloats"/> stages them.</summary>
public readonly record struct C1S2Weights(ArrayView<float> C1Weight, ArrayView<float> C1Bias,
    ArrayView<float> S2Coefficient, ArrayView<float> S2Bias);

/// <summary>C3 (with Table I's mask) and S4's parameters as <see cref="FusedKernels.C3S4"/> stages them.</summary>
public readonly record struct C3S4Weights(ArrayView<float> C3Weight, ArrayView<float> C3Bias, ArrayView<int> C3Mask,
    ArrayView<float> S4Coefficient, ArrayView<float> S4Bias);

/// <summary>The three dense layers' parameters <see cref="FusedKernels.C5F6Output"/> streams through shared memory.</summary>
public readonly record struct DenseLayersWeights(DenseWeights C5, DenseWeights F6, DenseWeights Output);

/// <summary>
/// The fused inference kernels compiled and loaded once for one accelerator (ILGPU's <c>LoadKernel</c> for explicitly
/// grouped kernels; the stream is an argument so two batches can be in flight on two streams). Each launch takes the
/// batch size and the group size and makes its own grid: one group per tile of images. Loaded on first use by
/// <c>LeNetAccelerator.FusedKernels</c>, so per-layer users never compile them.
/// </summary>
public sealed class FusedLaunches
{
    // Each C1/C3 kernel twice: with the convolution linear, and squashed (a kernel of its own, see
    // C1S2SquashedFromFloats), the squashed ones compiled on their first launch, so a linear model never compiles them.
    private readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> c1s2FromFloats;
    private readonly Lazy<Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> c1s2SquashedFromFloats;
    private readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<byte>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> c1s2FromBytes;
    private readonly Lazy<Action<AcceleratorStream, KernelConfig, int, int, ArrayView<byte>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> c1s2SquashedFromBytes;
    private readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> c3s4;
    private readonly Lazy<Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>> c3s4Squashed;
    private readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<int>> c5f6Output;

    /// <summary>The most threads a group may have on this accelerator (16 on ILGPU's default CPU device).</summary>
    public int MaxGroupSize { get; }

    public FusedLaunches(Accelerator accelerator)
    {
        MaxGroupSize = accelerator.MaxNumThreadsPerGroup;
        c1s2FromFloats = accelerator.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2FromFloats);
        c1s2SquashedFromFloats = new(() => accelerator.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2SquashedFromFloats));
        c1s2FromBytes = accelerator.LoadKernel<int, int, ArrayView<byte>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2FromBytes);
        c1s2SquashedFromBytes = new(() => accelerator.LoadKernel<int, int, ArrayView<byte>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2SquashedFromBytes));
        c3s4 = accelerator.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C3S4);
        c3s4Squashed = new(() => accelerator.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C3S4Squashed));
        c5f6Output = accelerator.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<int>>(FusedKernels.C5F6Output);
    }

    private static KernelConfig Grid(int count, int tile, int groupSize) => new((count + tile - 1) / tile, groupSize);

    /// <summary>
    /// <see cref="FusedKernels.C1S2FromFloats"/> (<see cref="FusedKernels.C1S2SquashedFromFloats"/> when C1 is
    /// <paramref name="squashed"/>): ⌈count / <see cref="FusedKernels.C1S2Tile"/>⌉ groups.
    /// </summary>
    public void C1S2(AcceleratorStream stream, int groupSize, int count, Model.Activation activation, bool squashed,
        ArrayView<float> images, C1S2Weights weights, ArrayView<float> s2) =>
        (squashed ? c1s2SquashedFromFloats.Value : c1s2FromFloats)(
            stream, Grid(count, FusedKernels.C1S2Tile, groupSize), count, (int)activation, images,
            weights.C1Weight, weights.C1Bias, weights.S2Coefficient, weights.S2Bias, s2);

    /// <summary><see cref="FusedKernels.C1S2FromBytes"/> (or its squashed variant): the same grid, raw 28×28 bytes in.</summary>
    public void C1S2(AcceleratorStream stream, int groupSize, int count, Model.Activation activation, bool squashed,
        ArrayView<byte> images, C1S2Weights weights, ArrayView<float> s2) =>
        (squashed ? c1s2SquashedFromBytes.Value : c1s2FromBytes)(
            stream, Grid(count, FusedKernels.C1S2Tile, groupSize), count, (int)activation, images,
            weights.C1Weight, weights.C1Bias, weights.S2Coefficient, weights.S2Bias, s2);

    /// <summary>
    /// <see cref="FusedKernels.C3S4"/> (<see cref="FusedKernels.C3S4Squashed"/> when C3 is <paramref name="squashed"/>):
    /// ⌈count / <see cref="FusedKernels.C3S4Tile"/>⌉ groups.
    /// </summary>
    public void C3S4(AcceleratorStream stream, int groupSize, int count, Model.Activation activation, bool squashed,
        ArrayView<float> s2, C3S4Weights weights, ArrayView<float> s4) =>
        (squashed ? c3s4Squashed.Value : c3s4)(
            stream, Grid(count, FusedKernels.C3S4Tile, groupSize), count, (int)activation, s2,
            weights.C3Weight, weights.C3Bias, weights.C3Mask, weights.S4Coefficient, weights.S4Bias, s4);

    /// <summary><see cref="FusedKernels.C5F6Output"/>: ⌈count / <see cref="FusedKernels.DenseTile"/>⌉ groups.</summary>
    public void C5F6Output(AcceleratorStream stream, int groupSize, int count, Model.Activation activation, ArrayView<float> s4,
        DenseLayersWeights weights, ArrayView<float> probabilities, ArrayView<int> predictions) =>
        c5f6Output(stream, Grid(count, FusedKernels.DenseTile, groupSize), count, (int)activation, s4,
            weights.C5.Weight, weights.C5.Bias, weights.F6.Weight, weights.F6.Bias, weights.Output.Weight, weights.Output.Bias,
            probabilities, predictions);
}

using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;

namespace LeNet.Gpu.Runtime;

/// <summary>
/// Every LeNet kernel compiled and loaded once for one accelerator, as typed delegates (ILGPU's
/// <c>LoadAutoGroupedStreamKernel</c>). Engines take them from <see cref="LeNetAccelerator.Kernels"/>.
/// </summary>
public sealed class LeNetKernels
{
    public readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>> InputFromFloats;
    public readonly Action<AcceleratorStream, Index1D, int, ArrayView<byte>, ArrayView<float>> InputFromBytes;
    public readonly Action<AcceleratorStream, Index1D, int, int, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>> Gather;
    public readonly Action<AcceleratorStream, Index1D, int, int, DistortionArgs, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>> GatherDistorted;

    public readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> ConvolutionForward;
    public readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>> ConvolutionBackwardInput;
    public readonly Action<AcceleratorStream, Index1D, int, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>> ConvolutionBackwardParameters;

    public readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> SubsamplingForward;
    public readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> SubsamplingBackwardInput;
    public readonly Action<AcceleratorStream, Index1D, BatchShape, BatchShape, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> SubsamplingBackwardParameters;

    public readonly Action<AcceleratorStream, Index1D, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> FullyConnectedForward;
    public readonly Action<AcceleratorStream, Index1D, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>> FullyConnectedBackwardInput;
    public readonly Action<AcceleratorStream, Index1D, int, int, int, int, int, int,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> FullyConnectedBackwardParameters;

    public readonly Action<AcceleratorStream, Index1D, BatchShape, int, int, ArrayView<float>, ArrayView<float>> SquashBackward;

    public readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>> SoftmaxForward;
    public readonly Action<AcceleratorStream, Index1D, int, int, int, ArrayView<float>, ArrayView<int>, ArrayView<int>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>> CrossEntropyBackward;
    public readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>> AccumulateStatistics;

    public readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> RbfForward;
    public readonly Action<AcceleratorStream, Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>> MapBackward;

    public readonly Action<AcceleratorStream, Index1D, int, int, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Sgd;
    public readonly Action<AcceleratorStream, Index1D, int, int, float, float, float, float, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Adam;
    public readonly Action<AcceleratorStream, Index1D, int, int, float, float, float,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Sdlm;
    public readonly Action<AcceleratorStream, Index1D, int, int, float, ArrayView<float>, ArrayView<float>> Accumulate;

    /// <summary>
    /// Threads for a grid-stride launch over <paramref name="elements"/> independent elements: one per element
    /// on a GPU; on the CPU accelerator, where each simulated thread costs about a microsecond, at most 256.
    /// </summary>
    public int ThreadsFor(int elements) => isCpu ? Math.Min(elements, 256) : elements;
    private readonly bool isCpu;

    internal LeNetKernels(Accelerator a)
    {
        InputFromFloats = a.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(InputKernels.FromFloatImages);
        InputFromBytes = a.LoadAutoGroupedKernel<Index1D, int, ArrayView<byte>, ArrayView<float>>(InputKernels.FromMnistBytes);
        Gather = a.LoadAutoGroupedKernel<Index1D, int, int, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>>(InputKernels.Gather);
        GatherDistorted = a.LoadAutoGroupedKernel<Index1D, int, int, DistortionArgs, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>>(InputKernels.GatherDistorted);

        ConvolutionForward = a.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(ConvolutionKernels.Forward);
        ConvolutionBackwardInput = a.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(ConvolutionKernels.BackwardInput);
        ConvolutionBackwardParameters = a.LoadAutoGroupedKernel<Index1D, int, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>>(ConvolutionKernels.BackwardParameters);

        SubsamplingForward = a.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.Forward);
        SubsamplingBackwardInput = a.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.BackwardInput);
        SubsamplingBackwardParameters = a.LoadAutoGroupedKernel<Index1D, BatchShape, BatchShape, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SubsamplingKernels.BackwardParameters);

        FullyConnectedForward = a.LoadAutoGroupedKernel<Index1D, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.Forward);
        FullyConnectedBackwardInput = a.LoadAutoGroupedKernel<Index1D, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.BackwardInput);
        FullyConnectedBackwardParameters = a.LoadAutoGroupedKernel<Index1D, int, int, int, int, int, int,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FullyConnectedKernels.BackwardParameters);

        SquashBackward = a.LoadAutoGroupedKernel<Index1D, BatchShape, int, int, ArrayView<float>, ArrayView<float>>(Squash.Backward);

        SoftmaxForward = a.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<int>>(SoftmaxKernels.Forward);
        CrossEntropyBackward = a.LoadAutoGroupedKernel<Index1D, int, int, int, ArrayView<float>, ArrayView<int>, ArrayView<int>,
            ArrayView<float>, ArrayView<float>, ArrayView<int>>(SoftmaxKernels.CrossEntropyBackward);
        AccumulateStatistics = a.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<int>, ArrayView<float>>(SoftmaxKernels.AccumulateStatistics);

        RbfForward = a.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RbfKernels.Forward);
        MapBackward = a.LoadAutoGroupedKernel<Index1D, int, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>>(RbfKernels.MapBackward);

        isCpu = a.AcceleratorType == AcceleratorType.CPU;
        Sgd = a.LoadAutoGroupedKernel<Index1D, int, int, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Sgd);
        Adam = a.LoadAutoGroupedKernel<Index1D, int, int, float, float, float, float, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Adam);
        Sdlm = a.LoadAutoGroupedKernel<Index1D, int, int, float, float, float,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Sdlm);
        Accumulate = a.LoadAutoGroupedKernel<Index1D, int, int, float, ArrayView<float>, ArrayView<float>>(OptimizerKernels.Accumulate);
    }

    /// <summary>
    /// Every kernel method, for offline compilation checks and documentation: the implicitly grouped ones (first
    /// parameter <c>Index1D</c>) and the explicitly grouped ones (<see cref="ExplicitlyGroupedKernelAttribute"/>).
    /// </summary>
    public static IReadOnlyList<System.Reflection.MethodInfo> All { get; } =
        new[] { typeof(InputKernels), typeof(ConvolutionKernels), typeof(SubsamplingKernels),
                typeof(FullyConnectedKernels), typeof(Squash), typeof(SoftmaxKernels), typeof(RbfKernels), typeof(OptimizerKernels),
                typeof(FusedKernels) }
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
            .Where(m => m.GetParameters().FirstOrDefault()?.ParameterType == typeof(Index1D) || IsExplicitlyGrouped(m))
            .ToList();

    /// <summary>True for a kernel launched with a <c>KernelConfig</c> (groups × threads) rather than an index.</summary>
    public static bool IsExplicitlyGrouped(System.Reflection.MethodInfo kernel) =>
        kernel.IsDefined(typeof(ExplicitlyGroupedKernelAttribute), inherit: false);
}

/// <summary>
/// The fused inference kernels (<see cref="FusedKernels"/>) compiled and loaded once for one accelerator, as typed
/// delegates taking a stream and a <see cref="KernelConfig"/> (ILGPU's <c>LoadKernel</c> for explicitly grouped
/// kernels; the stream is an argument so two batches can be in flight on two streams). Loaded on first use by
/// <see cref="LeNetAccelerator.FusedKernels"/>, so per-layer users never compile them.
/// </summary>
public sealed class FusedLeNetKernels
{
    public readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> C1S2FromFloats;
    public readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<byte>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> C1S2FromBytes;
    public readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> C3S4;
    public readonly Action<AcceleratorStream, KernelConfig, int, int, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<int>> C5F6Output;

    /// <summary>The most threads a group may have on this accelerator (16 on ILGPU's default CPU device).</summary>
    public int MaxGroupSize { get; }

    internal FusedLeNetKernels(Accelerator a)
    {
        MaxGroupSize = a.MaxNumThreadsPerGroup;
        C1S2FromFloats = a.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2FromFloats);
        C1S2FromBytes = a.LoadKernel<int, int, ArrayView<byte>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C1S2FromBytes);
        C3S4 = a.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(FusedKernels.C3S4);
        C5F6Output = a.LoadKernel<int, int, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<int>>(FusedKernels.C5F6Output);
    }
}

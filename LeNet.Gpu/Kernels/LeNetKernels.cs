using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Every per-layer LeNet kernel compiled and loaded once for one accelerator (ILGPU's
/// <c>LoadAutoGroupedStreamKernel</c>), grouped as the kernel files group them. Each group's typed launches live beside
/// its kernels (<see cref="InputLaunches"/> beside <see cref="InputKernels"/>, <see cref="ConvolutionLaunches"/> beside <see cref="ConvolutionKernels"/>, …) and size their own grids
/// from the batch shapes. Engines take them from <see cref="LeNetAccelerator.Kernels"/>.
/// </summary>
public sealed class LeNetKernels
{
    public readonly InputLaunches Input;
    public readonly ConvolutionLaunches Convolution;
    public readonly SubsamplingLaunches Subsampling;
    public readonly FullyConnectedLaunches FullyConnected;
    public readonly SquashLaunches Squashing;
    public readonly SoftmaxLaunches Softmax;
    public readonly RbfLaunches Rbf;
    public readonly OptimizerLaunches Optimizer;

    /// <summary>Threads for a grid-stride launch over <paramref name="elements"/> elements (<see cref="LaunchGrid.ThreadsFor"/>).</summary>
    public int ThreadsFor(int elements) => grid.ThreadsFor(elements);
    private readonly LaunchGrid grid;

    internal LeNetKernels(Accelerator a)
    {
        Input = new InputLaunches(a);
        Convolution = new ConvolutionLaunches(a);
        Subsampling = new SubsamplingLaunches(a);
        FullyConnected = new FullyConnectedLaunches(a);
        Squashing = new SquashLaunches(a);
        Softmax = new SoftmaxLaunches(a);
        Rbf = new RbfLaunches(a);
        Optimizer = new OptimizerLaunches(a);
        grid = new LaunchGrid(a);
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

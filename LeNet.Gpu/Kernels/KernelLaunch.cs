using ILGPU;
using ILGPU.Runtime;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// What a backward launch computes: the gradient (first order), or the Gauss–Newton Hessian diagonal that SDLM
/// needs (second order: the same launches with squared weights and squared derivatives). Kernels take it as the int
/// <c>secondOrder</c> (0 or 1), which is <c>(int)</c> of this.
/// </summary>
public enum GradientOrder { First = 0, Second = 1 }

/// <summary>A convolution's parameters (or their gradients): weight [out][in][5][5], bias [out], connection mask [out][in].</summary>
public readonly record struct ConvolutionWeights(ArrayView<float> Weight, ArrayView<float> Bias, ArrayView<int> Mask);

/// <summary>A subsampling layer's parameters (or their gradients): one coefficient and one bias per map.</summary>
public readonly record struct SubsamplingWeights(ArrayView<float> Coefficient, ArrayView<float> Bias);

/// <summary>A dense layer's parameters (or their gradients): weight [units][inputs], bias [units].</summary>
public readonly record struct DenseWeights(ArrayView<float> Weight, ArrayView<float> Bias);

/// <summary>How the launch helpers beside each kernel size their grids.</summary>
public readonly struct LaunchGrid(Accelerator accelerator)
{
    private readonly bool isCpu = accelerator.AcceleratorType == AcceleratorType.CPU;

    /// <summary>
    /// Threads for a grid-stride launch over <paramref name="elements"/> independent elements: one per element
    /// on a GPU; on the CPU accelerator, where each simulated thread costs about a microsecond, at most 256.
    /// </summary>
    public int ThreadsFor(int elements) => isCpu ? Math.Min(elements, 256) : elements;
}

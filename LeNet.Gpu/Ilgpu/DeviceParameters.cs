using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// A model's parameters on the device: the flat buffer of <see cref="ParameterLayout"/>, the connection masks
/// of the three convolutions (C1 and C5 all-connected, C3 Table I) and the trainable mask.
/// </summary>
public sealed class DeviceParameters : IDisposable
{
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; }
    public MemoryBuffer1D<float, Stride1D.Dense> Trainable { get; }
    private readonly MemoryBuffer1D<int, Stride1D.Dense> masks;

    public Squashing Squashing { get; }

    /// <summary>The model's output layer: an RBF model's output.weight holds its fixed centres.</summary>
    public OutputLayer Output { get; }

    /// <summary>Whether C1 and C3 squash their sums (<see cref="ConvolutionSquashing"/>).</summary>
    public ConvolutionSquashing Convolutions { get; private set; }

    /// <summary>What C1 and C3 apply to their sums: the identity, or the squashing function.</summary>
    public Activation ConvolutionActivation => Squashing.ConvolutionActivation(Convolutions);

    /// <summary>Connection masks [out maps][in maps] of C1, C3 and C5.</summary>
    public ArrayView<int> C1Mask => masks.View.SubView(0, C1MaskLength);
    public ArrayView<int> C3Mask => masks.View.SubView(C1MaskLength, C3MaskLength);
    public ArrayView<int> C5Mask => masks.View.SubView(C1MaskLength + C3MaskLength, C5MaskLength);

    public DeviceParameters(Accelerator accelerator, LeNetModel model)
    {
        Squashing = model.Squashing;
        Output = model.Output;
        Convolutions = model.Convolutions;
        Buffer = accelerator.Allocate1D(model.Parameters);
        Trainable = accelerator.Allocate1D(ParameterLayout.TrainableMask(model.Output));
        var allMasks = new int[C1MaskLength + C3MaskLength + C5MaskLength];
        Array.Fill(allMasks, 1);
        ConnectionTable.ToMask().CopyTo(allMasks, C1MaskLength);
        masks = accelerator.Allocate1D(allMasks);
    }

    public ArrayView<float> View(ParameterSlice slice) => Buffer.View.SubView(slice.Offset, slice.Length);

    /// <summary>A layer's weight and bias, for the launches of <see cref="Kernels"/>.</summary>
    public Kernels.DenseWeights Dense(ParameterSlice weight, ParameterSlice bias) => new(View(weight), View(bias));

    /// <summary>A convolution's weight, bias and connection mask.</summary>
    public Kernels.ConvolutionWeights Convolution(ParameterSlice weight, ParameterSlice bias, ArrayView<int> mask) =>
        new(View(weight), View(bias), mask);

    /// <summary>A subsampling layer's coefficient and bias.</summary>
    public Kernels.SubsamplingWeights Subsampling(ParameterSlice coefficient, ParameterSlice bias) =>
        new(View(coefficient), View(bias));

    public void Upload(float[] parameters) => Buffer.CopyFromCPU(parameters);

    /// <summary>Replaces the parameters and whether C1 and C3 squash (a host-side choice: each launch passes it).</summary>
    public void Upload(float[] parameters, ConvolutionSquashing convolutions)
    {
        if (!Enum.IsDefined(convolutions))
            throw new ArgumentOutOfRangeException(nameof(convolutions), convolutions, "unknown convolution squashing");
        Upload(parameters);
        Convolutions = convolutions;
    }

    public float[] Download() => Buffer.GetAsArray1D();

    public void Dispose()
    {
        Buffer.Dispose();
        Trainable.Dispose();
        masks.Dispose();
    }
}

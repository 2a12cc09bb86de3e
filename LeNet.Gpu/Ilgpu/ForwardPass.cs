using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Ilgpu;

/// <summary>
/// Device buffers for every layer's output for up to <see cref="Capacity"/> images, in the batch-innermost
/// layout of <see cref="BatchShape"/>, and the launches of the forward pass over them. Allocated once per
/// engine; a batch never leaves the device between layers.
/// </summary>
public sealed class ForwardPass : IDisposable
{
    public int Capacity { get; }

    /// <summary>Each layer's output, indexed by <see cref="Layer"/> (the input field first, the logits last).</summary>
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] outputs;

    public MemoryBuffer1D<float, Stride1D.Dense> Probabilities { get; }
    public MemoryBuffer1D<int, Stride1D.Dense> Predictions { get; }

    /// <summary>The buffer holding <paramref name="layer"/>'s output for the whole capacity.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> OutputOf(Layer layer) => outputs[(int)layer];

    /// <summary>Floats of device memory one image of capacity costs: every layer's output, the probabilities and the prediction.</summary>
    public static readonly long FloatsPerImage = ActivationLayout.PerImage + Architecture.Classes + 1;

    public ForwardPass(Accelerator accelerator, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "batch capacity must be at least 1");
        Capacity = capacity;
        outputs = Architecture.Layers.Select(l => accelerator.Allocate1D<float>(ActivationLayout.LengthOf(l.Layer, capacity))).ToArray();
        Probabilities = accelerator.Allocate1D<float>((long)Architecture.Classes * capacity);
        Predictions = accelerator.Allocate1D<int>(capacity);
    }

    public static BatchShape Shape(int maps, int size, int stride, int count = 0) => new(maps, size, count == 0 ? stride : count, stride);

    /// <summary>The shape of <paramref name="layer"/>'s output for <paramref name="count"/> images in buffers of <paramref name="stride"/>.</summary>
    public static BatchShape ShapeOf(Layer layer, int stride, int count = 0)
    {
        var info = Architecture.Of(layer);
        return Shape(info.Maps, info.Size, stride, count);
    }

    /// <summary>The shapes of one batch of <paramref name="count"/> images in buffers of this capacity.</summary>
    public BatchShape ShapeOf(Layer layer, int count) => ShapeOf(layer, Capacity, count);

    /// <summary>Fills the input field from <paramref name="count"/> image-major float images [n][32·32] on the device.</summary>
    public void LoadInput(LeNetKernels kernels, AcceleratorStream stream, ArrayView<float> images, int count) =>
        kernels.Input.FromFloatImages(stream, ShapeOf(Layer.Input, count), images, OutputOf(Layer.Input).View);

    /// <summary>Fills the input field from <paramref name="count"/> raw 28×28 byte images [n][784] on the device.</summary>
    public void LoadInput(LeNetKernels kernels, AcceleratorStream stream, ArrayView<byte> images, int count) =>
        kernels.Input.FromMnistBytes(stream, ShapeOf(Layer.Input, count), images, OutputOf(Layer.Input).View);

    /// <summary>Runs every layer after the input, then the softmax, on the <paramref name="count"/> images already in the input field.</summary>
    public void Run(LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, int count)
    {
        if (count < 1 || count > Capacity)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"batch must hold 1 to {Capacity} images");
        foreach (var layer in Architecture.Layers.Skip(1))
            Launch(layer.Layer, kernels, stream, parameters, count);
        LaunchSoftmax(kernels, stream, count);
    }

    /// <summary>
    /// One layer's launch, reading the previous layer's buffer and writing its own: the only place each layer's
    /// kernel arguments are written (the per-layer benchmarks time these same launches one by one).
    /// </summary>
    public void Launch(Layer layer, LeNetKernels kernels, AcceleratorStream stream, DeviceParameters parameters, int count)
    {
        var squash = parameters.Squashing.ToActivation();
        var convolution = parameters.ConvolutionActivation; // C1 and C3: identity, or squashed
        const Activation identity = Activation.Identity;
        BatchShape Shape(Layer l) => ShapeOf(l, count);
        ArrayView<float> Of(Layer l) => OutputOf(l).View;
        switch (layer)
        {
            case Layer.C1:
                kernels.Convolution.Forward(stream, Shape(Layer.Input), Shape(Layer.C1), convolution,
                    Of(Layer.Input), parameters.Convolution(P.C1Weight, P.C1Bias, parameters.C1Mask), Of(Layer.C1));
                break;
            case Layer.S2:
                kernels.Subsampling.Forward(stream, Shape(Layer.C1), Shape(Layer.S2), squash,
                    Of(Layer.C1), parameters.Subsampling(P.S2Coefficient, P.S2Bias), Of(Layer.S2));
                break;
            case Layer.C3:
                kernels.Convolution.Forward(stream, Shape(Layer.S2), Shape(Layer.C3), convolution,
                    Of(Layer.S2), parameters.Convolution(P.C3Weight, P.C3Bias, parameters.C3Mask), Of(Layer.C3));
                break;
            case Layer.S4:
                kernels.Subsampling.Forward(stream, Shape(Layer.C3), Shape(Layer.S4), squash,
                    Of(Layer.C3), parameters.Subsampling(P.S4Coefficient, P.S4Bias), Of(Layer.S4));
                break;
            case Layer.C5:
                kernels.Convolution.Forward(stream, Shape(Layer.S4), Shape(Layer.C5), squash,
                    Of(Layer.S4), parameters.Convolution(P.C5Weight, P.C5Bias, parameters.C5Mask), Of(Layer.C5));
                break;
            case Layer.F6:
                kernels.FullyConnected.Forward(stream, Shape(Layer.C5), Shape(Layer.F6), squash,
                    Of(Layer.C5), parameters.Dense(P.F6Weight, P.F6Bias), Of(Layer.F6));
                break;
            case Layer.Output when parameters.Output == OutputLayer.Rbf:
                kernels.Rbf.Forward(stream, Shape(Layer.Output), Of(Layer.F6), parameters.View(P.OutputWeight), Of(Layer.Output));
                break;
            case Layer.Output:
                kernels.FullyConnected.Forward(stream, Shape(Layer.F6), Shape(Layer.Output), identity,
                    Of(Layer.F6), parameters.Dense(P.OutputWeight, P.OutputBias), Of(Layer.Output));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(layer), layer, "not a computed layer");
        }
    }

    /// <summary>The softmax over the output layer's values: probabilities and predicted classes.</summary>
    public void LaunchSoftmax(LeNetKernels kernels, AcceleratorStream stream, int count) =>
        kernels.Softmax.Forward(stream, ShapeOf(Layer.Output, count), OutputOf(Layer.Output).View, Probabilities.View, Predictions.View);

    public void Dispose()
    {
        foreach (var b in outputs) b.Dispose();
        Probabilities.Dispose();
        Predictions.Dispose();
    }
}

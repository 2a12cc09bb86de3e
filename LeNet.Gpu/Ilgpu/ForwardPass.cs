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

    public MemoryBuffer1D<float, Stride1D.Dense> Input => OutputOf(Layer.Input);
    public MemoryBuffer1D<float, Stride1D.Dense> C1 => OutputOf(Layer.C1);
    public MemoryBuffer1D<float, Stride1D.Dense> S2 => OutputOf(Layer.S2);
    public MemoryBuffer1D<float, Stride1D.Dense> C3 => OutputOf(Layer.C3);
    public MemoryBuffer1D<float, Stride1D.Dense> S4 => OutputOf(Layer.S4);
    public MemoryBuffer1D<float, Stride1D.Dense> C5 => OutputOf(Layer.C5);
    public MemoryBuffer1D<float, Stride1D.Dense> F6 => OutputOf(Layer.F6);
    public MemoryBuffer1D<float, Stride1D.Dense> Logits => OutputOf(Layer.Output);

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
    public BatchShape InputShape(int count) => ShapeOf(Layer.Input, count);
    public BatchShape C1Shape(int count) => ShapeOf(Layer.C1, count);
    public BatchShape S2Shape(int count) => ShapeOf(Layer.S2, count);
    public BatchShape C3Shape(int count) => ShapeOf(Layer.C3, count);
    public BatchShape S4Shape(int count) => ShapeOf(Layer.S4, count);
    public BatchShape C5Shape(int count) => ShapeOf(Layer.C5, count);
    public BatchShape F6Shape(int count) => ShapeOf(Layer.F6, count);
    public BatchShape OutputShape(int count) => ShapeOf(Layer.Output, count);

    /// <summary>Fills <see cref="Input"/> from <paramref name="count"/> image-major float images [n][32·32] on the device.</summary>
    public void LoadInput(LeNetKernels kernels, AcceleratorStream stream, ArrayView<float> images, int count) =>
        kernels.Input.FromFloatImages(stream, InputShape(count), images, Input.View);

    /// <summary>Fills <see cref="Input"/> from <paramref name="count"/> raw 28×28 byte images [n][784] on the device.</summary>
    public void LoadInput(LeNetKernels kernels, AcceleratorStream stream, ArrayView<byte> images, int count) =>
        kernels.Input.FromMnistBytes(stream, InputShape(count), images, Input.View);

    /// <summary>Runs every layer after the input, then the softmax, on the <paramref name="count"/> images already in <see cref="Input"/>.</summary>
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
        switch (layer)
        {
            case Layer.C1:
                kernels.Convolution.Forward(stream, InputShape(count), C1Shape(count), convolution,
                    Input.View, parameters.Convolution(P.C1Weight, P.C1Bias, parameters.C1Mask), C1.View);
                break;
            case Layer.S2:
                kernels.Subsampling.Forward(stream, C1Shape(count), S2Shape(count), squash,
                    C1.View, parameters.Subsampling(P.S2Coefficient, P.S2Bias), S2.View);
                break;
            case Layer.C3:
                kernels.Convolution.Forward(stream, S2Shape(count), C3Shape(count), convolution,
                    S2.View, parameters.Convolution(P.C3Weight, P.C3Bias, parameters.C3Mask), C3.View);
                break;
            case Layer.S4:
                kernels.Subsampling.Forward(stream, C3Shape(count), S4Shape(count), squash,
                    C3.View, parameters.Subsampling(P.S4Coefficient, P.S4Bias), S4.View);
                break;
            case Layer.C5:
                kernels.Convolution.Forward(stream, S4Shape(count), C5Shape(count), squash,
                    S4.View, parameters.Convolution(P.C5Weight, P.C5Bias, parameters.C5Mask), C5.View);
                break;
            case Layer.F6:
                kernels.FullyConnected.Forward(stream, C5Shape(count), F6Shape(count), squash,
                    C5.View, parameters.Dense(P.F6Weight, P.F6Bias), F6.View);
                break;
            case Layer.Output when parameters.Output == OutputLayer.Rbf:
                kernels.Rbf.Forward(stream, OutputShape(count), F6.View, parameters.View(P.OutputWeight), Logits.View);
                break;
            case Layer.Output:
                kernels.FullyConnected.Forward(stream, F6Shape(count), OutputShape(count), identity,
                    F6.View, parameters.Dense(P.OutputWeight, P.OutputBias), Logits.View);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(layer), layer, "not a computed layer");
        }
    }

    /// <summary>The softmax over the output layer's values: probabilities and predicted classes.</summary>
    public void LaunchSoftmax(LeNetKernels kernels, AcceleratorStream stream, int count) =>
        kernels.Softmax.Forward(stream, OutputShape(count), Logits.View, Probabilities.View, Predictions.View);

    public void Dispose()
    {
        foreach (var b in outputs) b.Dispose();
        Probabilities.Dispose();
        Predictions.Dispose();
    }
}

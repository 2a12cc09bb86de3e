using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Runtime;

/// <summary>
/// Device buffers for every layer's output for up to <see cref="Capacity"/> images, in the batch-innermost
/// layout of <see cref="BatchShape"/>, and the launches of the forward pass over them. Allocated once per
/// engine; a batch never leaves the device between layers.
/// </summary>
public sealed class ForwardPass : IDisposable
{
    public int Capacity { get; }
    public MemoryBuffer1D<float, Stride1D.Dense> Input, C1, S2, C3, S4, C5, F6, Logits, Probabilities;
    public MemoryBuffer1D<int, Stride1D.Dense> Predictions;

    /// <summary>Floats of device memory one image of capacity costs (activations, gradients counted by callers).</summary>
    public const long FloatsPerImage = 32 * 32 + 6 * 28 * 28 + 6 * 14 * 14 + 16 * 10 * 10 + 16 * 5 * 5 + 120 + 84 + 10 + 10 + 1;

    public ForwardPass(Accelerator accelerator, int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "batch capacity must be at least 1");
        Capacity = capacity;
        Input = accelerator.Allocate1D<float>(Shape(1, 32, capacity).Length);
        C1 = accelerator.Allocate1D<float>(Shape(6, 28, capacity).Length);
        S2 = accelerator.Allocate1D<float>(Shape(6, 14, capacity).Length);
        C3 = accelerator.Allocate1D<float>(Shape(16, 10, capacity).Length);
        S4 = accelerator.Allocate1D<float>(Shape(16, 5, capacity).Length);
        C5 = accelerator.Allocate1D<float>(120L * capacity);
        F6 = accelerator.Allocate1D<float>(84L * capacity);
        Logits = accelerator.Allocate1D<float>(10L * capacity);
        Probabilities = accelerator.Allocate1D<float>(10L * capacity);
        Predictions = accelerator.Allocate1D<int>(capacity);
    }

    public static BatchShape Shape(int maps, int size, int stride, int count = 0) => new(maps, size, count == 0 ? stride : count, stride);

    /// <summary>The shapes of one batch of <paramref name="count"/> images in buffers of this capacity.</summary>
    public BatchShape InputShape(int count) => Shape(1, 32, Capacity, count);
    public BatchShape C1Shape(int count) => Shape(6, 28, Capacity, count);
    public BatchShape S2Shape(int count) => Shape(6, 14, Capacity, count);
    public BatchShape C3Shape(int count) => Shape(16, 10, Capacity, count);
    public BatchShape S4Shape(int count) => Shape(16, 5, Capacity, count);
    public BatchShape C5Shape(int count) => Shape(120, 1, Capacity, count);

    /// <summary>Fills <see cref="Input"/> from <paramref name="count"/> image-major float images [n][32·32] on the device.</summary>
    public void LoadInput(LeNetKernels k, AcceleratorStream stream, ArrayView<float> images, int count) =>
        k.InputFromFloats(stream, count, Capacity, images, Input.View);

    /// <summary>Fills <see cref="Input"/> from <paramref name="count"/> raw 28×28 byte images [n][784] on the device.</summary>
    public void LoadInput(LeNetKernels k, AcceleratorStream stream, ArrayView<byte> images, int count) =>
        k.InputFromBytes(stream, count, Capacity, images, Input.View);

    /// <summary>The layers in order; <see cref="Launch"/> runs one of them.</summary>
    public enum Layer { C1, S2, C3, S4, C5, F6, Output, Softmax }

    /// <summary>Runs every layer on the <paramref name="count"/> images already in <see cref="Input"/>.</summary>
    public void Run(LeNetKernels k, AcceleratorStream stream, DeviceParameters p, int count)
    {
        if (count < 1 || count > Capacity)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"batch must hold 1 to {Capacity} images");
        foreach (var layer in Enum.GetValues<Layer>())
            Launch(layer, k, stream, p, count);
    }

    /// <summary>
    /// One layer's launch, reading the previous layer's buffer and writing its own: the only place each layer's
    /// kernel arguments are written (the per-layer benchmarks time these same launches one by one).
    /// </summary>
    public void Launch(Layer layer, LeNetKernels k, AcceleratorStream stream, DeviceParameters p, int count)
    {
        int squash = (int)p.Squashing.ToActivation();
        const int identity = (int)Activation.Identity;
        switch (layer)
        {
            case Layer.C1:
                k.ConvolutionForward(stream, 6 * count, InputShape(count), C1Shape(count), identity,
                    Input.View, p.View(P.C1Weight), p.View(P.C1Bias), p.C1Mask, C1.View);
                break;
            case Layer.S2:
                k.SubsamplingForward(stream, 6 * count, C1Shape(count), S2Shape(count), squash,
                    C1.View, p.View(P.S2Coefficient), p.View(P.S2Bias), S2.View);
                break;
            case Layer.C3:
                k.ConvolutionForward(stream, 16 * count, S2Shape(count), C3Shape(count), identity,
                    S2.View, p.View(P.C3Weight), p.View(P.C3Bias), p.C3Mask, C3.View);
                break;
            case Layer.S4:
                k.SubsamplingForward(stream, 16 * count, C3Shape(count), S4Shape(count), squash,
                    C3.View, p.View(P.S4Coefficient), p.View(P.S4Bias), S4.View);
                break;
            case Layer.C5:
                k.ConvolutionForward(stream, 120 * count, S4Shape(count), C5Shape(count), squash,
                    S4.View, p.View(P.C5Weight), p.View(P.C5Bias), p.C5Mask, C5.View);
                break;
            case Layer.F6:
                k.FullyConnectedForward(stream, 84 * count, 120, 84, count, Capacity, squash,
                    C5.View, p.View(P.F6Weight), p.View(P.F6Bias), F6.View);
                break;
            case Layer.Output when p.Output == OutputLayer.Rbf:
                k.RbfForward(stream, count, Capacity, F6.View, p.View(P.OutputWeight), Logits.View);
                break;
            case Layer.Output:
                k.FullyConnectedForward(stream, 10 * count, 84, 10, count, Capacity, identity,
                    F6.View, p.View(P.OutputWeight), p.View(P.OutputBias), Logits.View);
                break;
            case Layer.Softmax:
                k.SoftmaxForward(stream, count, Capacity, Logits.View, Probabilities.View, Predictions.View);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(layer), layer, "no such layer");
        }
    }

    public void Dispose()
    {
        foreach (var b in new MemoryBuffer[] { Input, C1, S2, C3, S4, C5, F6, Logits, Probabilities, Predictions })
            b.Dispose();
    }
}

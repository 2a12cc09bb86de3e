using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Kernels;

/// <summary>
/// Bring images into the network's input layout [32·32][Stride] (batch innermost). One thread per image.
/// </summary>
public static class InputKernels
{
    private const int Field = InputField.Size;

    /// <summary>Float images [Count][32·32] (row-major, already scaled) → input. A transpose.</summary>
    public static void FromFloatImages(Index1D n, int stride, ArrayView<float> images, ArrayView<float> input)
    {
        for (int p = 0; p < Field * Field; p++)
            input[p * stride + n] = images[n * Field * Field + p];
    }

    /// <summary>
    /// Raw 28×28 bytes (MNIST layout, 0 = background, 255 = ink) [Count][784] → input, as the paper prepares
    /// MNIST (<see cref="InputField.Mnist"/>): a 2-pixel border of background around the 28×28 field; ink v maps to
    /// −0.1 + 1.275·v/255, so background is −0.1 and full ink 1.175.
    /// </summary>
    public static void FromMnistBytes(Index1D n, int stride, ArrayView<byte> images, ArrayView<float> input)
    {
        var bytes = new DeviceInkBytes(images);
        int image = n * InputField.MnistLength;
        for (int y = 0; y < Field; y++)
            for (int x = 0; x < Field; x++)
            {
                // The value before the store's address: the address is then not held across the border test (sm_90: 18 registers, not 20).
                float v = InputField.Mnist(bytes, image, x, y);
                input[(y * Field + x) * stride + n] = v;
            }
    }

    /// <summary>
    /// Training batch assembly: image order[first + n] of a device-resident dataset [N][32·32] and its label go
    /// to slot n of the batch. The dataset is uploaded once; each epoch uploads only the shuffled order.
    /// </summary>
    public static void Gather(Index1D n, int stride, int first, ArrayView<int> order,
        ArrayView<float> dataset, ArrayView<int> datasetLabels, ArrayView<float> input, ArrayView<int> labels)
    {
        int source = order[first + n];
        long from = (long)source * Field * Field;
        for (int p = 0; p < Field * Field; p++)
            input[p * stride + n] = dataset[from + p];
        labels[n] = datasetLabels[source];
    }

    /// <summary>
    /// <see cref="Gather"/> with the paper's distortions (Section III-C): each training image gets its own random
    /// planar affine transform — horizontal and vertical translation, scaling, squeezing (compress one axis while
    /// stretching the other) and horizontal shearing, and optionally a left–right mirror — drawn from a hash of (seed, epoch, image), so a run, and a
    /// run resumed from a checkpoint, sees the same distortions on every device. Each output pixel maps back
    /// through the transform about the field's centre and samples the source bilinearly
    /// (<see cref="InputField.Bilinear"/>); outside is background.
    /// </summary>
    public static void GatherDistorted(Index1D n, int stride, int first, DistortionArgs d, ArrayView<int> order,
        ArrayView<float> dataset, ArrayView<int> datasetLabels, ArrayView<float> input, ArrayView<int> labels)
    {
        int source = order[first + n];
        var t = AffineDistortion.For(d, source);
        var images = new DeviceFieldFloats(dataset);
        long from = (long)source * Field * Field;
        for (int y = 0; y < Field; y++)
            for (int x = 0; x < Field; x++)
            {
                t.SourceOf(x, y, out int x0, out int y0, out float fx, out float fy);
                float v = InputField.Bilinear(images, from, x0, y0, fx, fy);
                input[(y * Field + x) * stride + n] = v;
            }
        labels[n] = datasetLabels[source];
    }
}

/// <summary>A device view of ink bytes, for <see cref="InputField.Mnist"/>.</summary>
public readonly struct DeviceInkBytes : IInkBytes
{
    private readonly ArrayView<byte> view;
    public DeviceInkBytes(ArrayView<byte> view) => this.view = view;
    public byte At(int index) => view[index];
}

/// <summary>A device view of input fields, for <see cref="InputField.Bilinear"/>.</summary>
public readonly struct DeviceFieldFloats : IFieldFloats
{
    private readonly ArrayView<float> view;
    public DeviceFieldFloats(ArrayView<float> view) => this.view = view;
    public float At(long index) => view[index];
}

/// <summary>A device-resident training set for the gather kernels: the epoch's shuffled order, images [N][32·32], labels [N].</summary>
public readonly record struct GatherSource(ArrayView<int> Order, ArrayView<float> Images, ArrayView<int> Labels);

/// <summary>Where a gather writes the batch: the input layer [32·32][Stride] and the batch's labels [Stride].</summary>
public readonly record struct GatherTarget(ArrayView<float> Input, ArrayView<int> Labels);

/// <summary>
/// The input kernels loaded for one accelerator; each launch takes the input layer's <see cref="BatchShape"/>
/// (Count images, Stride slots) and runs one thread per image.
/// </summary>
public sealed class InputLaunches
{
    private readonly Action<AcceleratorStream, Index1D, int, ArrayView<float>, ArrayView<float>> fromFloatImages;
    private readonly Action<AcceleratorStream, Index1D, int, ArrayView<byte>, ArrayView<float>> fromMnistBytes;
    private readonly Action<AcceleratorStream, Index1D, int, int, ArrayView<int>, ArrayView<float>, ArrayView<int>,
        ArrayView<float>, ArrayView<int>> gather;
    private readonly Action<AcceleratorStream, Index1D, int, int, DistortionArgs, ArrayView<int>, ArrayView<float>,
        ArrayView<int>, ArrayView<float>, ArrayView<int>> gatherDistorted;

    public InputLaunches(Accelerator accelerator)
    {
        fromFloatImages = accelerator.LoadAutoGroupedKernel<Index1D, int, ArrayView<float>, ArrayView<float>>(InputKernels.FromFloatImages);
        fromMnistBytes = accelerator.LoadAutoGroupedKernel<Index1D, int, ArrayView<byte>, ArrayView<float>>(InputKernels.FromMnistBytes);
        gather = accelerator.LoadAutoGroupedKernel<Index1D, int, int, ArrayView<int>, ArrayView<float>, ArrayView<int>,
            ArrayView<float>, ArrayView<int>>(InputKernels.Gather);
        gatherDistorted = accelerator.LoadAutoGroupedKernel<Index1D, int, int, DistortionArgs, ArrayView<int>, ArrayView<float>,
            ArrayView<int>, ArrayView<float>, ArrayView<int>>(InputKernels.GatherDistorted);
    }

    /// <summary><see cref="InputKernels.FromFloatImages"/>: float images [Count][32·32] → the input layer.</summary>
    public void FromFloatImages(AcceleratorStream stream, BatchShape input, ArrayView<float> images, ArrayView<float> output) =>
        fromFloatImages(stream, input.Count, input.Stride, images, output);

    /// <summary><see cref="InputKernels.FromMnistBytes"/>: MNIST bytes [Count][28·28] → the input layer.</summary>
    public void FromMnistBytes(AcceleratorStream stream, BatchShape input, ArrayView<byte> images, ArrayView<float> output) =>
        fromMnistBytes(stream, input.Count, input.Stride, images, output);

    /// <summary><see cref="InputKernels.Gather"/>: images Order[first …] of the source into the batch's slots.</summary>
    public void Gather(AcceleratorStream stream, BatchShape input, int first, GatherSource source, GatherTarget target) =>
        gather(stream, input.Count, input.Stride, first, source.Order, source.Images, source.Labels, target.Input, target.Labels);

    /// <summary><see cref="InputKernels.GatherDistorted"/>: <see cref="Gather"/> through each image's random affine distortion.</summary>
    public void GatherDistorted(AcceleratorStream stream, BatchShape input, int first, DistortionArgs distortion,
        GatherSource source, GatherTarget target) =>
        gatherDistorted(stream, input.Count, input.Stride, first, distortion,
            source.Order, source.Images, source.Labels, target.Input, target.Labels);
}

using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// Each forward kernel on its own, launched directly on every accelerator (<see cref="OnEveryAcceleratorAttribute"/>): the layer's input is random (not the
/// previous kernel's output), so a failure points at one kernel. 37 images in buffers for 40, every output buffer
/// NaN before the launch and the 3 spare input slots NaN too: an element left unwritten, or a read outside the
/// image's own slot, turns into NaN and fails. Results must be within <see cref="Tolerance.Kernel"/> (normwise,
/// see <see cref="Tolerance"/>) of the float64 reference run on the same float inputs and parameters.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class LayerKernelTests
{
    private const int Count = 37, Capacity = 40;

    private static BatchShape Shape(int maps, int size) => new(maps, size, Count, Capacity);

    private static int[] AllConnected(int outMaps, int inMaps) => Enumerable.Repeat(1, outMaps * inMaps).ToArray();

    private static int[] TableIMask()
    {
        var mask = new int[16 * 6];
        for (int o = 0; o < 16; o++)
            foreach (int i in ReferenceLeNet.C3Inputs[o]) mask[o * 6 + i] = 1;
        return mask;
    }

    /// <summary>Reads a batch-innermost output back, checks the spare slots were not written, returns it image-major.</summary>
    private static float[] ReadBatch(MemoryBuffer1D<float, Stride1D.Dense> buffer, string what)
    {
        var device = buffer.GetAsArray1D();
        Assert.True(TestData.Padding(device, Count, Capacity).All(float.IsNaN), $"{what}: a slot beyond the batch's {Count} images was written");
        return TestData.FromBatchLayout(device, Count, Capacity);
    }

    private static double[] PerImage(float[] inputs, int per, Func<double[], double[]> layer) =>
        TestData.Concat(Enumerable.Range(0, Count).Select(n => layer(TestData.Image(inputs, n, per))));

    private static float[] RunConvolution(TestAccelerator gpu, int inMaps, int inSize, int outMaps, int outSize, int activation,
        float[] inputs, ParameterSlice weight, ParameterSlice bias, float[] parameters, int[] mask)
    {
        using var input = gpu.Upload(TestData.ToBatchLayout(inputs, Count, Capacity));
        using var w = gpu.Upload(parameters.AsSpan(weight.Offset, weight.Length).ToArray());
        using var b = gpu.Upload(parameters.AsSpan(bias.Offset, bias.Length).ToArray());
        using var m = gpu.Upload(mask);
        using var output = gpu.Poisoned((long)outMaps * outSize * outSize * Capacity);
        gpu.Kernels.Convolution.Forward(gpu.Stream, Shape(inMaps, inSize), Shape(outMaps, outSize), (Activation)activation,
            input.View, new(w.View, b.View, m.View), output.View);
        gpu.Stream.Synchronize();
        return ReadBatch(output, "convolution");
    }

    private static float[] RunSubsampling(TestAccelerator gpu, int maps, int inSize, int activation, float[] inputs,
        ParameterSlice coefficient, ParameterSlice bias, float[] parameters)
    {
        using var input = gpu.Upload(TestData.ToBatchLayout(inputs, Count, Capacity));
        using var c = gpu.Upload(parameters.AsSpan(coefficient.Offset, coefficient.Length).ToArray());
        using var b = gpu.Upload(parameters.AsSpan(bias.Offset, bias.Length).ToArray());
        using var output = gpu.Poisoned((long)maps * (inSize / 2) * (inSize / 2) * Capacity);
        gpu.Kernels.Subsampling.Forward(gpu.Stream, Shape(maps, inSize), Shape(maps, inSize / 2), (Activation)activation,
            input.View, new(c.View, b.View), output.View);
        gpu.Stream.Synchronize();
        return ReadBatch(output, "subsampling");
    }

    private static float[] RunDense(TestAccelerator gpu, int inUnits, int outUnits, int activation, float[] inputs,
        ParameterSlice weight, ParameterSlice bias, float[] parameters)
    {
        using var input = gpu.Upload(TestData.ToBatchLayout(inputs, Count, Capacity));
        using var w = gpu.Upload(parameters.AsSpan(weight.Offset, weight.Length).ToArray());
        using var b = gpu.Upload(parameters.AsSpan(bias.Offset, bias.Length).ToArray());
        using var output = gpu.Poisoned((long)outUnits * Capacity);
        gpu.Kernels.FullyConnected.Forward(gpu.Stream, Shape(inUnits, 1), Shape(outUnits, 1), (Activation)activation,
            input.View, new(w.View, b.View), output.View);
        gpu.Stream.Synchronize();
        return ReadBatch(output, "dense");
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void InputFromFloatsTransposesExactly(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var images = TestData.RandomImages(Count, seed: 1);
        using var staging = gpu.Upload(images);
        using var input = gpu.Poisoned(1024L * Capacity);
        gpu.Kernels.Input.FromFloatImages(gpu.Stream, new BatchShape(1, InputField.Size, Count, Capacity), staging.View, input.View);
        gpu.Stream.Synchronize();
        Assert.Equal(images, ReadBatch(input, "input"));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void InputFromMnistBytesPadsAndScalesLikeThePaper(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var bytes = TestData.RandomBytes(Count * 784, seed: 2);
        bytes[0] = 0; bytes[1] = 255; // both ends of the range
        using var staging = gpu.Upload(bytes);
        using var input = gpu.Poisoned(1024L * Capacity);
        gpu.Kernels.Input.FromMnistBytes(gpu.Stream, new BatchShape(1, InputField.Size, Count, Capacity), staging.View, input.View);
        gpu.Stream.Synchronize();
        var expected = TestData.Concat(Enumerable.Range(0, Count).Select(n => ReferenceLeNet.PadMnist(bytes.AsSpan(n * 784, 784))));
        Tolerance.AssertClose("input from bytes", ReadBatch(input, "input"), expected);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void C1MatchesReference(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(21);
        var images = TestData.RandomImages(Count, seed: 3);
        var actual = RunConvolution(gpu, 1, 32, 6, 28, (int)Activation.Identity, images,
            ParameterLayout.C1Weight, ParameterLayout.C1Bias, model.Parameters, AllConnected(6, 1));
        Tolerance.AssertClose("C1", actual, PerImage(images, 1024, new ReferenceLeNet(model).C1Layer));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void S2MatchesReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(22, squashing);
        // Wider coefficients than the paper's start so the squashing leaves its linear part.
        TestData.RandomFloats(6, 9, -1.5, 1.5).CopyTo(model.Tensor(ParameterLayout.S2Coefficient));
        var inputs = TestData.RandomFloats(Count * 6 * 28 * 28, seed: 4, -1.5, 1.5);
        var reference = new ReferenceLeNet(model);
        var actual = RunSubsampling(gpu, 6, 28, (int)squashing.ToActivation(), inputs,
            ParameterLayout.S2Coefficient, ParameterLayout.S2Bias, model.Parameters);
        Tolerance.AssertClose($"S2 {squashing}", actual,
            PerImage(inputs, 6 * 784, x => reference.Squashed(reference.SubsampleSums(x, 6, 28, second: false))));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void C3UsesOnlyTableIConnectionsEvenWhenMaskedWeightsAreNotZero(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(23);
        // The 900 weights Table I leaves out get a huge value: the kernel must skip them, as the reference does.
        var trainable = ParameterLayout.TrainableMask();
        for (int i = ParameterLayout.C3Weight.Offset; i < ParameterLayout.C3Weight.End; i++)
            if (trainable[i] == 0) model.Parameters[i] = 1e3f;
        var inputs = TestData.RandomFloats(Count * 6 * 14 * 14, seed: 5, -1.7, 1.7);
        var actual = RunConvolution(gpu, 6, 14, 16, 10, (int)Activation.Identity, inputs,
            ParameterLayout.C3Weight, ParameterLayout.C3Bias, model.Parameters, TableIMask());
        Tolerance.AssertClose("C3", actual, PerImage(inputs, 6 * 196, new ReferenceLeNet(model).C3Layer));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void S4MatchesReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(24, squashing);
        TestData.RandomFloats(16, 10, -1.5, 1.5).CopyTo(model.Tensor(ParameterLayout.S4Coefficient));
        var inputs = TestData.RandomFloats(Count * 16 * 100, seed: 6, -2, 2);
        var reference = new ReferenceLeNet(model);
        var actual = RunSubsampling(gpu, 16, 10, (int)squashing.ToActivation(), inputs,
            ParameterLayout.S4Coefficient, ParameterLayout.S4Bias, model.Parameters);
        Tolerance.AssertClose($"S4 {squashing}", actual,
            PerImage(inputs, 1600, x => reference.Squashed(reference.SubsampleSums(x, 16, 10, second: true))));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void C5MatchesReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(25, squashing);
        var inputs = TestData.RandomFloats(Count * 400, seed: 7, -1.7, 1.7);
        var reference = new ReferenceLeNet(model);
        var actual = RunConvolution(gpu, 16, 5, 120, 1, (int)squashing.ToActivation(), inputs,
            ParameterLayout.C5Weight, ParameterLayout.C5Bias, model.Parameters, AllConnected(120, 16));
        Tolerance.AssertClose($"C5 {squashing}", actual, PerImage(inputs, 400, x => reference.Squashed(reference.C5Sums(x))));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void F6MatchesReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(26, squashing);
        var inputs = TestData.RandomFloats(Count * 120, seed: 8, -1.7, 1.7);
        var reference = new ReferenceLeNet(model);
        var actual = RunDense(gpu, 120, 84, (int)squashing.ToActivation(), inputs, ParameterLayout.F6Weight, ParameterLayout.F6Bias, model.Parameters);
        Tolerance.AssertClose($"F6 {squashing}", actual, PerImage(inputs, 120, x => reference.Squashed(reference.F6Sums(x))));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void OutputLayerMatchesReference(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(27);
        var inputs = TestData.RandomFloats(Count * 84, seed: 9, -1.7, 1.7);
        var actual = RunDense(gpu, 84, 10, (int)Activation.Identity, inputs, ParameterLayout.OutputWeight, ParameterLayout.OutputBias, model.Parameters);
        Tolerance.AssertClose("OUTPUT", actual, PerImage(inputs, 84, new ReferenceLeNet(model).OutputLogits));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void SoftmaxIsStableAndPicksTheFirstLargestLogit(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var logits = TestData.RandomFloats(Count * 10, seed: 10, -20, 20);
        for (int c = 0; c < 10; c++)
        {
            logits[0 * 10 + c] = 100 + c % 3;   // exp(100) overflows float: the kernel must subtract the maximum
            logits[1 * 10 + c] = -3.5f;         // all equal: p = 0.1 each, class 0
        }
        logits[2 * 10 + 4] = logits[2 * 10 + 7] = 50; // tie between classes 4 and 7 → 4
        using var input = gpu.Upload(TestData.ToBatchLayout(logits, Count, Capacity));
        using var probabilities = gpu.Poisoned(10L * Capacity);
        using var predictions = gpu.Upload(Enumerable.Repeat(-1, Capacity).ToArray());
        gpu.Kernels.Softmax.Forward(gpu.Stream, Shape(10, 1), input.View, probabilities.View, predictions.View);
        gpu.Stream.Synchronize();

        // Probabilities come back image-major [Capacity][10]; the spare images stay NaN, their predictions −1.
        var p = probabilities.GetAsArray1D();
        var classes = predictions.GetAsArray1D();
        Assert.True(p.Skip(Count * 10).All(float.IsNaN), "probabilities beyond the batch were written");
        Assert.True(classes.Skip(Count).All(c => c == -1), "predictions beyond the batch were written");
        var perImage = Enumerable.Range(0, Count).Select(n => TestData.Image(logits, n, 10)).ToList();
        Tolerance.AssertClose("softmax", p.AsSpan(0, Count * 10), TestData.Concat(perImage.Select(ReferenceLeNet.Softmax)));
        Assert.Equal(perImage.Select(ReferenceLeNet.ArgMax), classes.Take(Count));
        Assert.Equal(0, classes[1]);
        Assert.Equal(4, classes[2]);
    }
}

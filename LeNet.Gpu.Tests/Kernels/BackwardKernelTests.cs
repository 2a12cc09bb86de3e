using ILGPU;
using ILGPU.Runtime;
using LeNet.Gpu.Kernels;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using P = LeNet.Gpu.Model.ParameterLayout;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// The backward kernels chained by hand, layer by layer from the loss to C1 (the order any trainer must use),
/// after a <see cref="ForwardPass"/>; the flat gradient buffer is NaN before the launches so every entry, masked C3
/// weights included, must be written. Compared per tensor with the float64 reference's backward pass
/// (<see cref="ReferenceLeNet.Gradient"/>, itself checked against finite differences).
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class BackwardKernelTests(ITestOutputHelper output)
{
    /// <summary>
    /// Gradients use the kernels' bound, <see cref="Tolerance.Kernel"/>, normwise per tensor, with a floor of 1e-12
    /// instead of 1e-3: with the sigmoid, C1–S4 gradients are around 1e-6 and the usual floor would hide any error.
    /// </summary>
    private const double GradientFloor = 1e-12;

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh, 5, 8)]
    [OnEveryAccelerator(Squashing.Sigmoid, 5, 8)]
    [OnEveryAccelerator(Squashing.ScaledTanh, 1, 1)]
    public void ChainedBackwardKernelsMatchReferenceGradient(DeviceKind kind, Squashing squashing, int count, int capacity)
    {
        var gpu = TestAccelerators.Get(kind);
        var model = LeNetModel.CreateRandom(1200 + count, squashing);
        var images = TestData.RandomImages(count, seed: 1201);
        var labels = Enumerable.Range(0, count).Select(n => (n * 7 + 3) % 10).ToArray();
        var a = gpu.Accelerator;
        var k = gpu.Kernels;
        var s = gpu.Stream;

        using var parameters = new DeviceParameters(a, model);
        using var pass = new ForwardPass(a, capacity);
        pass.OutputOf(Layer.Input).CopyFromCPU(TestData.ToBatchLayout(images, count, capacity));
        pass.Run(k, s, parameters, count);

        using var labelBuffer = gpu.Upload(labels.Concat(Enumerable.Repeat(0, capacity - count)).ToArray());
        using var dLogits = gpu.Poisoned(10L * capacity);
        using var losses = gpu.Poisoned(capacity);
        using var correct = gpu.Upload(Enumerable.Repeat(-1, capacity).ToArray());
        using var dF6 = gpu.Poisoned(84L * capacity);
        using var dC5 = gpu.Poisoned(120L * capacity);
        using var dS4 = gpu.Poisoned(400L * capacity);
        using var dC3 = gpu.Poisoned(1600L * capacity);
        using var dS2 = gpu.Poisoned(1176L * capacity);
        using var dC1 = gpu.Poisoned(4704L * capacity);
        using var gradient = gpu.Poisoned(P.Length);
        ArrayView<float> G(ParameterSlice slice) => gradient.View.SubView(slice.Offset, slice.Length);
        DenseWeights G2(ParameterSlice weight, ParameterSlice bias) => new(G(weight), G(bias));
        ArrayView<float> W(ParameterSlice slice) => parameters.View(slice);
        var squash = squashing.ToActivation();
        const GradientOrder First = GradientOrder.First;
        BatchShape Shape(int maps, int size) => new(maps, size, count, capacity);
        // Parameter-gradient kernels loop grid-stride; 97 threads (not a divisor of any layer's count) makes
        // every thread handle several elements, as on the CPU accelerator.
        const int Threads = 97;

        // Loss → OUTPUT (identity) → F6.
        k.Softmax.CrossEntropyBackward(s, Shape(10, 1), First, pass.Probabilities.View, pass.Predictions.View, labelBuffer.View,
            dLogits.View, losses.View, correct.View);
        k.FullyConnected.BackwardParameters(s, Shape(84, 1), Shape(10, 1), First, dLogits.View, pass.OutputOf(Layer.F6).View, G2(P.OutputWeight, P.OutputBias), Threads);
        k.FullyConnected.BackwardInput(s, Shape(84, 1), Shape(10, 1), First, dLogits.View, W(P.OutputWeight), dF6.View);
        // F6 (squashed) → C5.
        k.Squashing.Backward(s, Shape(84, 1), squash, First, pass.OutputOf(Layer.F6).View, dF6.View);
        k.FullyConnected.BackwardParameters(s, Shape(120, 1), Shape(84, 1), First, dF6.View, pass.OutputOf(Layer.C5).View, G2(P.F6Weight, P.F6Bias), Threads);
        k.FullyConnected.BackwardInput(s, Shape(120, 1), Shape(84, 1), First, dF6.View, W(P.F6Weight), dC5.View);
        // C5 (squashed) → S4.
        k.Squashing.Backward(s, Shape(120, 1), squash, First, pass.OutputOf(Layer.C5).View, dC5.View);
        k.Convolution.BackwardParameters(s, Shape(16, 5), Shape(120, 1), First, dC5.View, pass.OutputOf(Layer.S4).View, parameters.C5Mask, G2(P.C5Weight, P.C5Bias), Threads);
        k.Convolution.BackwardInput(s, Shape(16, 5), Shape(120, 1), First, dC5.View, new(W(P.C5Weight), W(P.C5Bias), parameters.C5Mask), dS4.View);
        // S4 (squashed) → C3 (identity) → S2.
        k.Squashing.Backward(s, Shape(16, 5), squash, First, pass.OutputOf(Layer.S4).View, dS4.View);
        k.Subsampling.BackwardParameters(s, Shape(16, 10), Shape(16, 5), First, dS4.View, pass.OutputOf(Layer.C3).View, new(G(P.S4Coefficient), G(P.S4Bias)));
        k.Subsampling.BackwardInput(s, Shape(16, 10), Shape(16, 5), First, dS4.View, W(P.S4Coefficient), dC3.View);
        k.Convolution.BackwardParameters(s, Shape(6, 14), Shape(16, 10), First, dC3.View, pass.OutputOf(Layer.S2).View, parameters.C3Mask, G2(P.C3Weight, P.C3Bias), Threads);
        k.Convolution.BackwardInput(s, Shape(6, 14), Shape(16, 10), First, dC3.View, new(W(P.C3Weight), W(P.C3Bias), parameters.C3Mask), dS2.View);
        // S2 (squashed) → C1 (identity).
        k.Squashing.Backward(s, Shape(6, 14), squash, First, pass.OutputOf(Layer.S2).View, dS2.View);
        k.Subsampling.BackwardParameters(s, Shape(6, 28), Shape(6, 14), First, dS2.View, pass.OutputOf(Layer.C1).View, new(G(P.S2Coefficient), G(P.S2Bias)));
        k.Subsampling.BackwardInput(s, Shape(6, 28), Shape(6, 14), First, dS2.View, W(P.S2Coefficient), dC1.View);
        k.Convolution.BackwardParameters(s, Shape(1, 32), Shape(6, 28), First, dC1.View, pass.OutputOf(Layer.Input).View, parameters.C1Mask, G2(P.C1Weight, P.C1Bias), Threads);
        s.Synchronize();

        var reference = new ReferenceLeNet(model);
        var inputs = Enumerable.Range(0, count).Select(n => TestData.Image(images, n, 1024)).ToList();
        var expected = reference.Gradient(inputs, labels, out _);
        var actual = gradient.GetAsArray1D();
        var mask = P.TrainableMask();
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.True(actual[i] == 0f, $"masked C3 weight {i}: gradient {actual[i]}");
        foreach (var slice in P.Slices)
        {
            var g = actual.AsSpan(slice.Offset, slice.Length);
            var e = expected.AsSpan(slice.Offset, slice.Length);
            output.WriteLine($"{slice.Name}: max |g| {e.ToArray().Max(Math.Abs):E1}, normwise error {Tolerance.NormwiseError(g, e, GradientFloor):E2}");
            Tolerance.AssertClose($"gradient {slice.Name} ({squashing}, {count} images)", g, e, Tolerance.Kernel, GradientFloor);
        }

        // Per-image losses and correctness flags; the spare slots untouched.
        var lossValues = losses.GetAsArray1D();
        var expectedLosses = inputs.Select((x, n) => ReferenceLeNet.CrossEntropy(reference.Forward(x).Logits, labels[n])).ToArray();
        Tolerance.AssertClose("losses", lossValues.AsSpan(0, count), expectedLosses);
        Assert.True(lossValues.Skip(count).All(float.IsNaN), "losses beyond the batch were written");
        var flags = correct.GetAsArray1D();
        var classes = pass.Predictions.GetAsArray1D();
        for (int n = 0; n < count; n++) Assert.Equal(classes[n] == labels[n] ? 1 : 0, flags[n]);
        Assert.True(flags.Skip(count).All(f => f == -1), "correctness flags beyond the batch were written");
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void AccumulateStatisticsAddsLossesHitsAndCount(DeviceKind kind)
    {
        var gpu = TestAccelerators.Get(kind);
        using var losses = gpu.Upload(new[] { 0.5f, 1.5f, 2f, float.NaN });
        using var correct = gpu.Upload(new[] { 1, 0, 1, 7 });
        using var stats = gpu.Upload(new[] { 10f, 3f, 20f });
        gpu.Kernels.Softmax.AccumulateStatistics(gpu.Stream, 3, losses.View, correct.View, stats.View);
        gpu.Kernels.Softmax.AccumulateStatistics(gpu.Stream, 3, losses.View, correct.View, stats.View);
        gpu.Stream.Synchronize();
        Assert.Equal(new[] { 18f, 7f, 26f }, stats.GetAsArray1D()); // only the first 3 images count
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void GatherAssemblesAShuffledBatch(DeviceKind kind)
    {
        var gpu = TestAccelerators.Get(kind);
        const int datasetSize = 10, count = 5, capacity = 7, first = 2;
        var dataset = TestData.RandomImages(datasetSize, seed: 1300);
        var datasetLabels = Enumerable.Range(0, datasetSize).Select(i => 9 - i).ToArray();
        var order = new[] { 4, 8, 1, 9, 0, 3, 7, 2, 6, 5 };
        using var orderBuffer = gpu.Upload(order);
        using var data = gpu.Upload(dataset);
        using var dataLabels = gpu.Upload(datasetLabels);
        using var input = gpu.Poisoned(1024L * capacity);
        using var labels = gpu.Upload(Enumerable.Repeat(-1, capacity).ToArray());
        gpu.Kernels.Input.Gather(gpu.Stream, new BatchShape(1, InputField.Size, count, capacity), first,
            new GatherSource(orderBuffer.View, data.View, dataLabels.View), new GatherTarget(input.View, labels.View));
        gpu.Stream.Synchronize();

        var device = input.GetAsArray1D();
        Assert.True(TestData.Padding(device, count, capacity).All(float.IsNaN), "slots beyond the batch were written");
        var expected = order.Skip(first).Take(count).SelectMany(i => dataset.AsSpan(i * 1024, 1024).ToArray()).ToArray();
        Assert.Equal(expected, TestData.FromBatchLayout(device, count, capacity));
        Assert.Equal(order.Skip(first).Take(count).Select(i => datasetLabels[i]).Concat([-1, -1]), labels.GetAsArray1D());
    }
}

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
/// The fused inference path (<see cref="FusedKernels"/>, <see cref="FusedForwardPass"/>, <see cref="FusedPipeline"/>)
/// on every accelerator, against the per-layer path and the float64 reference: probabilities within 1e-5 (max
/// absolute difference against the per-layer path; normwise against the reference, see <see cref="Tolerance"/>),
/// the same classes, S2 and S4 (the only activations the fused path stores) within 1e-5 of the reference. Every
/// output buffer starts as NaN (predictions −1) so an element no kernel wrote, or one written past the batch, shows.
/// Batches: one image, sizes that are not multiples of any tile (8 for C1S2 and C3S4, 16 for the dense kernel), and
/// many batches streamed through the two slots. Group sizes are capped in most cases: the kernels' results must not
/// depend on them, and on the CPU accelerator every group barrier costs in proportion to the group's threads. Every
/// device runs the same rows: the uncapped ones, and the engines, launch at the sizes a GPU gets.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class FusedKernelTests
{
    private const double MaxProbabilityDifference = 1e-5;

    /// <summary>Squashing, images, capacity, group-size cap (0: the kernels' preferred sizes, 256/224/128).</summary>
    public static IEnumerable<object[]> Batches => OnEveryAcceleratorAttribute.Cross(new TheoryData<Squashing, int, int, int>
    {
        { Squashing.ScaledTanh, 1, 1, 32 },
        { Squashing.Sigmoid, 1, 3, 0 },
        { Squashing.ScaledTanh, 37, 40, 64 },   // 4 full tiles of 8 + 5; 2 of 16 + 5
        { Squashing.Sigmoid, 37, 40, 20 },      // a group size that is no multiple of the warp
        { Squashing.ScaledTanh, 23, 23, 0 },
    });

    private static void Poison(MemoryBuffer1D<float, Stride1D.Dense> buffer)
    {
        var nan = new float[buffer.Length];
        Array.Fill(nan, float.NaN);
        buffer.CopyFromCPU(nan);
    }

    private static List<ReferenceActivations> Reference(LeNetModel model, float[] images, int count)
    {
        var reference = new ReferenceLeNet(model);
        return Enumerable.Range(0, count).Select(n => reference.Forward(TestData.Image(images, n, 1024))).ToList();
    }

    private static void AssertSameAsPerLayer(string what, Prediction perLayer, Prediction fused)
    {
        Assert.Equal(perLayer.Count, fused.Count);
        Assert.All(fused.Probabilities, p => Assert.True(float.IsFinite(p), $"{what}: non-finite probability"));
        double max = perLayer.Probabilities.Zip(fused.Probabilities, (a, b) => (double)Math.Abs(a - b)).Max();
        Assert.True(max <= MaxProbabilityDifference, $"{what}: probabilities differ from the per-layer path by up to {max:E2}");
        Assert.Equal(perLayer.Classes, fused.Classes);
    }

    [SkippableTheory]
    [MemberData(nameof(Batches))]
    public void FusedPassMatchesPerLayerPathAndReference(DeviceKind device, Squashing squashing, int count, int capacity, int maxGroup)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(1000 + count + maxGroup, squashing);
        var images = TestData.RandomImages(count, seed: 2000 + count);
        using var parameters = new DeviceParameters(gpu.Accelerator, model);
        using var pass = new FusedForwardPass(gpu.Accelerator, capacity, maxGroup);
        foreach (var b in new[] { pass.Images, pass.S2, pass.S4, pass.Probabilities }) Poison(b);
        pass.Predictions.CopyFromCPU(Enumerable.Repeat(-1, capacity).ToArray());
        pass.Images.View.SubView(0, images.Length).CopyFromCPU(images);

        pass.Run(gpu.LeNet.FusedKernels, gpu.Stream, parameters, count);
        gpu.Stream.Synchronize();

        string what = $"{squashing}, {count} of {capacity}, groups ≤ {(maxGroup == 0 ? "preferred" : maxGroup)}";
        var expected = Reference(model, images, count);
        void Check(string layer, MemoryBuffer1D<float, Stride1D.Dense> buffer, int per, Func<ReferenceActivations, double[]> select)
        {
            var device = buffer.GetAsArray1D();
            Assert.True(device.Skip(count * per).All(float.IsNaN), $"{layer} ({what}): an element past the batch was written");
            Tolerance.AssertClose($"{layer} ({what})", device.AsSpan(0, count * per), TestData.Concat(expected.Select(select)));
        }
        Check("S2", pass.S2, Architecture.S2Length, r => r.S2);
        Check("S4", pass.S4, Architecture.S4Length, r => r.S4);
        Check("probabilities", pass.Probabilities, 10, r => r.Probabilities);
        var classes = pass.Predictions.GetAsArray1D();
        Assert.True(classes.Skip(count).All(c => c == -1), $"predictions ({what}): past the batch were written");
        Tolerance.AssertClasses($"classes ({what})", classes.Take(count).ToArray(), expected.Select(r => r.Logits).ToList());

        using var perLayer = new IlgpuInferenceEngine(model, gpu.LeNet, capacity, InferencePath.PerLayer);
        var probabilities = pass.Probabilities.GetAsArray1D().Take(count * 10).ToArray();
        AssertSameAsPerLayer(what, perLayer.Predict(images), new Prediction(probabilities, classes.Take(count).ToArray()));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void FusedEngineStreamsManyBatchesLikeThePerLayerEngine(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        // 45 images in batches of 8: 6 batches alternating between the two slots, the last one partial (5).
        var model = LeNetModel.CreateRandom(3000 + (int)squashing, squashing);
        const int count = 45, capacity = 8;
        var images = TestData.RandomImages(count, seed: 3001);
        using var fused = new IlgpuInferenceEngine(model, gpu.LeNet, capacity, InferencePath.Fused);
        using var perLayer = new IlgpuInferenceEngine(model, gpu.LeNet, capacity, InferencePath.PerLayer);
        Assert.Equal(InferencePath.Fused, fused.Path);
        Assert.Equal(InferencePath.PerLayer, perLayer.Path);

        var streamed = fused.Predict(images);
        AssertSameAsPerLayer($"{squashing}, {count} images in batches of {capacity}", perLayer.Predict(images), streamed);
        var expected = Reference(model, images, count);
        Tolerance.AssertClose("streamed probabilities", streamed.Probabilities, TestData.Concat(expected.Select(r => r.Probabilities)));

        // A later, shorter call (one slot only) sees nothing of the earlier one, and each image's answer does not
        // depend on the batch it travelled in.
        var few = images.AsSpan(17 * 1024, 3 * 1024).ToArray();
        var again = fused.Predict(few);
        Assert.Equal(streamed.Classes.AsSpan(17, 3).ToArray(), again.Classes);
        Assert.Equal(streamed.Probabilities.AsSpan(170, 30).ToArray(), again.Probabilities);
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void FusedEnginePadsRawBytesLikeThePerLayerEngineAndTheReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(4000 + (int)squashing, squashing);
        const int count = 21;
        var bytes = TestData.RandomBytes(count * 784, seed: 4001);
        using var fused = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 10, InferencePath.Fused);
        using var perLayer = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 10, InferencePath.PerLayer);
        var prediction = fused.PredictMnist(bytes);
        AssertSameAsPerLayer($"{squashing}, {count} byte images", perLayer.PredictMnist(bytes), prediction);

        var reference = new ReferenceLeNet(model);
        var expected = Enumerable.Range(0, count)
            .Select(n => reference.Forward(ReferenceLeNet.PadMnist(bytes.AsSpan(n * 784, 784)))).ToList();
        Tolerance.AssertClose("byte-image probabilities", prediction.Probabilities, TestData.Concat(expected.Select(r => r.Probabilities)));
        Tolerance.AssertClasses("byte-image classes", prediction.Classes, expected.Select(r => r.Logits).ToList());
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void FusedPathIgnoresMaskedC3WeightsEvenWhenACallerWritesThem(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(5000);
        var poisoned = model.Clone();
        var trainable = ParameterLayout.TrainableMask();
        int masked = 0;
        for (int i = 0; i < trainable.Length; i++)
            if (trainable[i] == 0) { poisoned.Parameters[i] = 1e3f; masked++; }
        Assert.Equal(900, masked);
        const int count = 11;
        var images = TestData.RandomImages(count, seed: 5001);
        using var clean = new IlgpuInferenceEngine(model, gpu.LeNet, 16, InferencePath.Fused);
        using var dirty = new IlgpuInferenceEngine(poisoned, gpu.LeNet, 16, InferencePath.Fused);
        var expected = clean.Predict(images);
        var actual = dirty.Predict(images);
        // Never read, so not merely close: identical.
        Assert.Equal(expected.Probabilities, actual.Probabilities);
        Assert.Equal(expected.Classes, actual.Classes);
        var reference = Reference(poisoned, images, count); // skips masked entries by its own copy of Table I
        Tolerance.AssertClose("probabilities with 1e3 in masked C3 weights", actual.Probabilities, TestData.Concat(reference.Select(r => r.Probabilities)));
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void FusedEngineTracesThroughThePerLayerPath(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(6000);
        var images = TestData.RandomImages(5, seed: 6001);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, 8, InferencePath.Fused);
        var trace = engine.Trace(images);
        var prediction = engine.Predict(images);
        Assert.Equal(6 * 28 * 28 * 5, trace.Of(Layer.C1).Length); // C1 exists only on the per-layer path
        AssertSameAsPerLayer("trace vs fused predict", new Prediction(trace.Probabilities, trace.Classes), prediction);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void DefaultPathIsFusedOnGpusAndPerLayerOnTheCpuAccelerator(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        Assert.Equal(InferencePath.Fused, IlgpuInferenceEngine.DefaultPath(new DeviceDescription(DeviceKind.Cuda, "gpu", 8L << 30, 32, 1024)));
        Assert.Equal(InferencePath.Fused, IlgpuInferenceEngine.DefaultPath(new DeviceDescription(DeviceKind.OpenCL, "gpu", 8L << 30, 32, 256)));
        var expected = device == DeviceKind.IlgpuCpu ? InferencePath.PerLayer : InferencePath.Fused;
        Assert.Equal(expected, IlgpuInferenceEngine.DefaultPath(gpu.LeNet.Description));
        using var engine = new IlgpuInferenceEngine(LeNetModel.CreateRandom(1), gpu.LeNet, 4);
        Assert.Equal(expected, engine.Path);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void FusedPassRejectsBatchesOutsideItsCapacity(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        using var parameters = new DeviceParameters(gpu.Accelerator, LeNetModel.CreateRandom(1));
        using var pass = new FusedForwardPass(gpu.Accelerator, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => pass.Run(gpu.LeNet.FusedKernels, gpu.Stream, parameters, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => pass.Run(gpu.LeNet.FusedKernels, gpu.Stream, parameters, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusedForwardPass(gpu.Accelerator, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusedForwardPass(gpu.Accelerator, FusedForwardPass.MaxCapacity + 1));
        // Preferred group sizes, capped by the device (1,024 on the CPU accelerator, 4,096 on PoCL) and by the caller;
        // never derived from the warp size a driver reports (PoCL reports 0).
        int max = gpu.Accelerator.MaxNumThreadsPerGroup;
        Assert.Equal((Math.Min(FusedKernels.C1S2Group, max), Math.Min(FusedKernels.C3S4Group, max), Math.Min(FusedKernels.DenseGroup, max)),
            (pass.C1S2Group, pass.C3S4Group, pass.DenseGroup));
        using var small = new FusedForwardPass(gpu.Accelerator, 4, maxGroupSize: 100);
        Assert.Equal((100, 100, 100), (small.C1S2Group, small.C3S4Group, small.DenseGroup));
    }
}

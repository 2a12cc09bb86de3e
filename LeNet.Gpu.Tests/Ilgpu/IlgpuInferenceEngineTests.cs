using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// <see cref="IlgpuInferenceEngine"/> end to end on every accelerator against the float64 reference: probabilities
/// within <see cref="Tolerance.Kernel"/> (normwise, see <see cref="Tolerance"/>), classes equal (near ties exempt),
/// fresh random weights and images per case. Batches larger than the engine's capacity stream through in several
/// device batches; a later, smaller run must not see the earlier one's data.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class IlgpuInferenceEngineTests
{
    public static IEnumerable<object[]> PredictCases => OnEveryAcceleratorAttribute.Cross(new TheoryData<Squashing, int, int>
    {
        { Squashing.ScaledTanh, 1, 16 },
        { Squashing.Sigmoid, 1, 1 },
        { Squashing.ScaledTanh, 37, 64 },  // not a power of two, one partly filled batch
        { Squashing.Sigmoid, 37, 37 },     // exactly full
        { Squashing.ScaledTanh, 40, 16 },  // 16 + 16 + 8: streaming over three device batches
        { Squashing.Sigmoid, 40, 16 },
    });

    internal static void AssertMatchesReference(string what, Prediction prediction, ReferenceLeNet reference, IReadOnlyList<double[]> inputs)
    {
        var expected = inputs.Select(reference.Forward).ToList();
        Assert.Equal(inputs.Count, prediction.Count);
        Assert.Equal(inputs.Count * 10, prediction.Probabilities.Length);
        Tolerance.AssertClose($"{what} probabilities", prediction.Probabilities, TestData.Concat(expected.Select(r => r.Probabilities)));
        Tolerance.AssertClasses($"{what} classes", prediction.Classes, expected.Select(r => r.Logits).ToList());
    }

    private static List<double[]> Inputs(float[] images) =>
        Enumerable.Range(0, images.Length / 1024).Select(n => TestData.Image(images, n, 1024)).ToList();

    /// <summary>
    /// An RBF model on both inference paths (which run it as the exact softmax(2·c·x) equivalent) and on the CPU
    /// engine (which computes −y): softmax(−y) of the reference, which computes y as written.
    /// </summary>
    [SkippableTheory]
    [OnEveryAccelerator(InferencePath.PerLayer)]
    [OnEveryAccelerator(InferencePath.Fused)]
    public void Rbf_models_give_the_references_softmax_of_minus_y(DeviceKind device, InferencePath path)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(71, Squashing.ScaledTanh, output: OutputLayer.Rbf);
        var mask = ParameterLayout.TrainableMask(OutputLayer.Rbf);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) model.Parameters[i] *= 4; // spreads the distances: the softmax is far from uniform
        var images = TestData.RandomImages(19, seed: 72);
        var reference = new ReferenceLeNet(model);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 19, path);
        AssertMatchesReference($"rbf, {path}", engine.Predict(images), reference, Inputs(images));
        using var cpu = new LeNet.Gpu.Cpu.CpuInferenceEngine(model);
        AssertMatchesReference("rbf, CPU engine", cpu.Predict(images), reference, Inputs(images));
    }

    [SkippableTheory]
    [MemberData(nameof(PredictCases))]
    public void PredictMatchesReference(DeviceKind device, Squashing squashing, int images, int capacity)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(300 + images + capacity, squashing);
        var data = TestData.RandomImages(images, seed: 400 + images);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, capacity);
        Assert.Equal(capacity, engine.BatchCapacity);
        Assert.Equal(squashing, engine.Squashing);
        AssertMatchesReference($"{squashing}, {images} images in batches of {capacity}", engine.Predict(data), new ReferenceLeNet(model), Inputs(data));
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh)]
    [OnEveryAccelerator(Squashing.Sigmoid)]
    public void PredictMnistPadsRawBytesLikeTheReference(DeviceKind device, Squashing squashing)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(500 + (int)squashing, squashing);
        const int images = 40;
        var bytes = TestData.RandomBytes(images * 784, seed: 501);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 16);
        var inputs = Enumerable.Range(0, images).Select(n => ReferenceLeNet.PadMnist(bytes.AsSpan(n * 784, 784))).ToList();
        AssertMatchesReference($"MNIST bytes {squashing}", engine.PredictMnist(bytes), new ReferenceLeNet(model), inputs);
    }

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh, 1, 8)]
    [OnEveryAccelerator(Squashing.Sigmoid, 37, 40)]
    public void TraceGivesEveryLayerImageMajor(DeviceKind device, Squashing squashing, int images, int capacity)
    {
        var gpu = TestAccelerators.Get(device);
        var model = LeNetModel.CreateRandom(600 + images, squashing);
        var data = TestData.RandomImages(images, seed: 601);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, capacity);
        AssertTraceMatches(engine.Trace(data), new ReferenceLeNet(model), Inputs(data), $"{squashing}");
    }

    internal static void AssertTraceMatches(LayerOutputs trace, ReferenceLeNet reference, IReadOnlyList<double[]> inputs, string what)
    {
        var expected = inputs.Select(reference.Forward).ToList();
        Assert.Equal(inputs.Count, trace.Count);
        void Check(string layer, float[] actual, Func<ReferenceActivations, double[]> select) =>
            Tolerance.AssertClose($"{what} {layer}", actual, TestData.Concat(expected.Select(select)));
        Check("input", trace.Of(Layer.Input), r => r.Input);
        Check("C1", trace.Of(Layer.C1), r => r.C1);
        Check("S2", trace.Of(Layer.S2), r => r.S2);
        Check("C3", trace.Of(Layer.C3), r => r.C3);
        Check("S4", trace.Of(Layer.S4), r => r.S4);
        Check("C5", trace.Of(Layer.C5), r => r.C5);
        Check("F6", trace.Of(Layer.F6), r => r.F6);
        Check("logits", trace.Of(Layer.Output), r => r.Logits);
        Check("probabilities", trace.Probabilities, r => r.Probabilities);
        Tolerance.AssertClasses($"{what} classes", trace.Classes, expected.Select(r => r.Logits).ToList());
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void ASmallRunAfterALargeOneSeesNothingStale(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        // 40 images through capacity 16 fill every slot; then 3 new images must give their own results, every layer.
        var model = LeNetModel.CreateRandom(700);
        var reference = new ReferenceLeNet(model);
        using var engine = new IlgpuInferenceEngine(model, gpu.LeNet, batchCapacity: 16);
        var first = TestData.RandomImages(40, seed: 701);
        AssertMatchesReference("first run", engine.Predict(first), reference, Inputs(first));
        var second = TestData.RandomImages(3, seed: 702);
        AssertMatchesReference("second run", engine.Predict(second), reference, Inputs(second));
        var third = TestData.RandomImages(2, seed: 703);
        AssertTraceMatches(engine.Trace(third), reference, Inputs(third), "trace after runs");
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void LoadReplacesTheParameters(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        var a = LeNetModel.CreateRandom(800);
        var b = LeNetModel.CreateRandom(801);
        var data = TestData.RandomImages(5, seed: 802);
        using var engine = new IlgpuInferenceEngine(a, gpu.LeNet, batchCapacity: 8);
        AssertMatchesReference("model a", engine.Predict(data), new ReferenceLeNet(a), Inputs(data));
        engine.Load(b);
        AssertMatchesReference("model b", engine.Predict(data), new ReferenceLeNet(b), Inputs(data));
        var e = Assert.Throws<ArgumentException>(() => engine.Load(LeNetModel.CreateRandom(803, Squashing.Sigmoid)));
        Assert.Contains("sigmoid", e.Message);
    }

    [SkippableTheory]
    [OnEveryAccelerator]
    public void BadInputsAreRejectedWithAClearMessage(DeviceKind device)
    {
        var gpu = TestAccelerators.Get(device);
        using var engine = new IlgpuInferenceEngine(LeNetModel.CreateRandom(900), gpu.LeNet, batchCapacity: 4);

        var empty = Assert.Throws<ArgumentException>(() => engine.Predict(ReadOnlySpan<float>.Empty));
        Assert.Contains("no images", empty.Message);
        Assert.Contains("1024", empty.Message);

        var ragged = Assert.Throws<ArgumentException>(() => engine.Predict(new float[1024 + 1000]));
        Assert.Contains("2024", ragged.Message);  // what was given
        Assert.Contains("1024", ragged.Message);  // what one image needs

        var short1 = Assert.Throws<ArgumentException>(() => engine.Predict(new float[1023]));
        Assert.Contains("1023", short1.Message);

        var bytes = Assert.Throws<ArgumentException>(() => engine.PredictMnist(new byte[785]));
        Assert.Contains("785", bytes.Message);
        Assert.Contains("784", bytes.Message);
        Assert.Throws<ArgumentException>(() => engine.PredictMnist(ReadOnlySpan<byte>.Empty));

        var trace = Assert.Throws<ArgumentException>(() => engine.Trace(new float[5 * 1024]));
        Assert.Matches(@"\b4\b", trace.Message); // the capacity
        Assert.Matches(@"\b5\b", trace.Message); // the images given

        Assert.Throws<ArgumentOutOfRangeException>(() => new IlgpuInferenceEngine(LeNetModel.CreateRandom(1), gpu.LeNet, batchCapacity: -1));
    }

    [Fact]
    public void CreateOpensAndOwnsItsDevice()
    {
        var model = LeNetModel.CreateRandom(950, Squashing.Sigmoid);
        var data = TestData.RandomImages(6, seed: 951);
        Prediction prediction;
        using (var engine = IlgpuInferenceEngine.Create(model, DeviceKind.IlgpuCpu, batchCapacity: 4))
        {
            Assert.Equal(DeviceKind.IlgpuCpu, engine.Device.Kind);
            Assert.Equal(4, engine.BatchCapacity);
            prediction = engine.Predict(data);
        }
        AssertMatchesReference("owned CPU accelerator", prediction, new ReferenceLeNet(model), Inputs(data));
    }

    [Fact]
    public void DefaultCapacityFollowsTheDevice()
    {
        Assert.Equal(1024, IlgpuInferenceEngine.DefaultCapacity(new DeviceDescription(DeviceKind.IlgpuCpu, "ilgpu-cpu", 1L << 40, 32, 1024)));
        // A quarter of the memory over the bytes one image costs: activations, float staging and byte staging.
        long perImage = (ForwardPass.FloatsPerImage + 1024) * 4 + 784;
        Assert.Equal((int)((8L << 30) / 4 / perImage), IlgpuInferenceEngine.DefaultCapacity(new DeviceDescription(DeviceKind.Cuda, "gpu", 8L << 30, 32, 1024)));
        Assert.Equal(65_536, IlgpuInferenceEngine.DefaultCapacity(new DeviceDescription(DeviceKind.Cuda, "big", 80L << 30, 32, 1024)));
        Assert.Equal(1, IlgpuInferenceEngine.DefaultCapacity(new DeviceDescription(DeviceKind.OpenCL, "tiny", 1024, 32, 256)));
    }
}

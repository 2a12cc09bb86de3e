using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Ilgpu;

/// <summary>
/// One end-to-end body run on every accelerator kind: the CPU accelerator always, CUDA and OpenCL when ILGPU
/// finds such a device (reported as Skipped otherwise). Same tolerance as everywhere: <see cref="Tolerance.Kernel"/>.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class AcceleratorKindTests
{
    [SkippableTheory]
    [OnEveryAccelerator]
    public void EndToEndMatchesReference(DeviceKind kind)
    {
        var accelerator = TestAccelerators.Get(kind).LeNet;
        Assert.Equal(kind, accelerator.Kind);

        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
        {
            var model = LeNetModel.CreateRandom(1000 + (int)squashing, squashing);
            var reference = new ReferenceLeNet(model);
            using var engine = new IlgpuInferenceEngine(model, accelerator, batchCapacity: 16);
            Assert.Equal(kind, engine.Device.Kind);

            var images = TestData.RandomImages(37, seed: 1001);
            var inputs = Enumerable.Range(0, 37).Select(n => TestData.Image(images, n, 1024)).ToList();
            IlgpuInferenceEngineTests.AssertMatchesReference($"{kind} {squashing}", engine.Predict(images), reference, inputs);

            var bytes = TestData.RandomBytes(20 * 784, seed: 1002);
            var padded = Enumerable.Range(0, 20).Select(n => ReferenceLeNet.PadMnist(bytes.AsSpan(n * 784, 784))).ToList();
            IlgpuInferenceEngineTests.AssertMatchesReference($"{kind} {squashing} bytes", engine.PredictMnist(bytes), reference, padded);

            var few = images.AsSpan(0, 5 * 1024).ToArray();
            IlgpuInferenceEngineTests.AssertTraceMatches(engine.Trace(few), reference, inputs.Take(5).ToList(), $"{kind} {squashing} trace");
        }
    }

    /// <summary>
    /// Units driven far into saturation (biases ±100, so 2a/3 ≈ ±67: e^{4a/3} overflows float) must give ±1.7159
    /// or 0/1, never NaN or infinity. ILGPU's software tanh for GPUs below sm_75, (e^{2x} − 1)·rcp(e^{2x} + 1),
    /// gives ∞·0 = NaN there; the CPU accelerator uses the runtime's tanh.
    /// </summary>
    [SkippableTheory]
    [OnEveryAccelerator]
    public void SaturatedUnitsStayFinite(DeviceKind kind)
    {
        var accelerator = TestAccelerators.Get(kind).LeNet;

        foreach (var squashing in new[] { Squashing.ScaledTanh, Squashing.Sigmoid })
        {
            var model = LeNetModel.CreateRandom(1100 + (int)squashing, squashing);
            // A third of the units of every squashing layer pushed to +100, a third to −100.
            foreach (var bias in new[] { ParameterLayout.S2Bias, ParameterLayout.S4Bias, ParameterLayout.C5Bias, ParameterLayout.F6Bias })
            {
                var values = model.Tensor(bias);
                for (int i = 0; i < values.Length; i++)
                    if (i % 3 != 2) values[i] = i % 3 == 0 ? 100f : -100f;
            }
            var reference = new ReferenceLeNet(model);
            Assert.Equal(squashing == Squashing.ScaledTanh ? 1.7159 : 1.0, reference.Forward(new double[1024]).F6[0], 6); // saturated indeed
            using var engine = new IlgpuInferenceEngine(model, accelerator, batchCapacity: 8);
            var images = TestData.RandomImages(8, seed: 1101);
            var inputs = Enumerable.Range(0, 8).Select(n => TestData.Image(images, n, 1024)).ToList();
            IlgpuInferenceEngineTests.AssertTraceMatches(engine.Trace(images), reference, inputs, $"{kind} {squashing} saturated");
        }
    }
}

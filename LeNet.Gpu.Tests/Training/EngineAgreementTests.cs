using ILGPU.Runtime.CPU;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>
/// One full training step (gather, forward, loss, backward, update) on each engine against the float64
/// reference, and the two engines' loss curves over whole epochs against each other.
/// </summary>
public sealed class EngineAgreementTests : IDisposable
{
    private readonly LeNetAccelerator accelerator = LeNetAccelerator.Create(DeviceKind.IlgpuCpu, CPUDeviceKind.Nvidia);

    private Trainer Create(DeviceKind engine, LeNetModel model, TrainingOptions options, float[] images, int[] labels) =>
        engine == DeviceKind.Cpu ? Trainer.OnCpu(model, options, images, labels) : new Trainer(accelerator, model, options, images, labels);

    [Theory]
    [InlineData(DeviceKind.IlgpuCpu, Squashing.ScaledTanh)]
    [InlineData(DeviceKind.IlgpuCpu, Squashing.Sigmoid)]
    [InlineData(DeviceKind.Cpu, Squashing.ScaledTanh)]
    [InlineData(DeviceKind.Cpu, Squashing.Sigmoid)]
    public void One_full_SGD_step_matches_the_reference(DeviceKind engine, Squashing squashing)
    {
        const int n = 12;
        // A large rate: the step is read back as w' − w, a difference of floats that rounds to ~2⁻²⁴·|w|, so
        // the larger the step, the less that rounding weighs against the tolerance.
        const float rate = 1f, decay = 1e-3f;
        var images = TestData.RandomImages(n, seed: 31);
        var labels = Enumerable.Range(0, n).Select(i => (i * 7) % 10).ToArray();
        var model = LeNetModel.CreateRandom(17, squashing);
        // Weights × 4 so the gradients of every layer are well above float noise.
        for (int i = 0; i < model.Parameters.Length; i++) model.Parameters[i] *= 4;

        var options = new TrainingOptions { BatchSize = n, LearningRate = rate, WeightDecay = decay, Momentum = 0.9f };
        using var trainer = Create(engine, model, options, images, labels);
        trainer.StepOnce();
        var after = trainer.Model().Parameters;

        // Velocity starts at zero: v = −lr·(g + λw), w' = w + v, for every trainable entry; masked ones stay 0.
        var reference = new ReferenceLeNet(model);
        var g = reference.Gradient(Enumerable.Range(0, n).Select(i => TestData.Image(images, i, 1024)).ToList(), labels, out _);
        var mask = ParameterLayout.TrainableMask();
        var expectedStep = new double[g.Length];
        var actualStep = new float[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            expectedStep[i] = mask[i] == 0 ? 0 : -rate * (g[i] + decay * model.Parameters[i]);
            actualStep[i] = after[i] - model.Parameters[i];
        }
        foreach (var slice in ParameterLayout.Slices)
            Tolerance.AssertClose($"{engine.ToName()} step of {slice.Name}", actualStep.AsSpan(slice.Offset, slice.Length),
                expectedStep.AsSpan(slice.Offset, slice.Length), 2e-4, floor: 1e-9);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.Equal(0f, after[i]);
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void The_two_engines_agree_on_the_loss_curve_of_whole_epochs(OptimizerKind optimizer)
    {
        var (images, labels) = TrainerTests.Synthetic(96, seed: 12);
        var options = new TrainingOptions
        {
            Epochs = 2, BatchSize = 16, Optimizer = optimizer, Seed = 4, ReportEvery = 1,
            Distortion = LeNet.Gpu.Runtime.Distortion.Default,
        };
        List<double> Curve(DeviceKind engine)
        {
            var losses = new List<double>();
            using var trainer = Create(engine, LeNetModel.CreateRandom(4), options, images, labels);
            trainer.Run(progress: new Recorder(p => losses.Add(p.Running.Loss)));
            return losses;
        }
        var kernels = Curve(DeviceKind.IlgpuCpu);
        var cpu = Curve(DeviceKind.Cpu);
        Assert.Equal(12, kernels.Count);
        Assert.Equal(kernels.Count, cpu.Count);
        for (int i = 0; i < kernels.Count; i++)
            Assert.True(Math.Abs(kernels[i] - cpu[i]) <= 1e-4 * Math.Max(1, Math.Abs(kernels[i])),
                $"step {i + 1}: running loss {kernels[i]:R} on the kernels, {cpu[i]:R} on the CPU engine");
    }

    private sealed class Recorder(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    public void Dispose() => accelerator.Dispose();
}

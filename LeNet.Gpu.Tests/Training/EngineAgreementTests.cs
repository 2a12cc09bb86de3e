using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Reference;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>
/// One full training step (gather, forward, loss, backward, update) on each engine — the CPU engine and the kernels
/// on every accelerator — against the float64 reference, and the kernels' loss curves over whole epochs against the
/// CPU engine's.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class EngineAgreementTests
{
    /// <summary>A trainer on the CPU engine, or on the shared accelerator of an ILGPU kind (skipped where there is none).</summary>
    private static Trainer Create(DeviceKind engine, LeNetModel model, TrainingOptions options, float[] images, int[] labels) =>
        engine == DeviceKind.Cpu
            ? Engines.CreateCpuTrainer(model, options, images, labels)
            : Engines.CreateTrainer(TestAccelerators.Get(engine).LeNet, model, options, images, labels);

    [SkippableTheory]
    [OnEveryAccelerator(Squashing.ScaledTanh, OutputLayer.Softmax)]
    [OnEveryAccelerator(Squashing.Sigmoid, OutputLayer.Softmax)]
    [OnEveryAccelerator(Squashing.ScaledTanh, OutputLayer.Rbf)]
    [InlineData(DeviceKind.Cpu, Squashing.ScaledTanh, OutputLayer.Softmax)]
    [InlineData(DeviceKind.Cpu, Squashing.Sigmoid, OutputLayer.Softmax)]
    [InlineData(DeviceKind.Cpu, Squashing.ScaledTanh, OutputLayer.Rbf)]
    public void One_full_SGD_step_matches_the_reference(DeviceKind engine, Squashing squashing, OutputLayer output)
    {
        const int n = 12;
        // A large rate: the step is read back as w' − w, a difference of floats that rounds to ~2⁻²⁴·|w|, so
        // the larger the step, the less that rounding weighs against the tolerance.
        const float rate = 1f, decay = 1e-3f;
        var images = TestData.RandomImages(n, seed: 31);
        var labels = Enumerable.Range(0, n).Select(i => (i * 7) % 10).ToArray();
        var model = LeNetModel.CreateRandom(17, squashing, output: output);
        // Weights × 4 so the gradients of every layer are well above float noise (an RBF model's centres stay ±1).
        var mask = ParameterLayout.TrainableMask(output);
        for (int i = 0; i < model.Parameters.Length; i++)
            if (mask[i] != 0) model.Parameters[i] *= 4;

        var options = new TrainingOptions { BatchSize = n, LearningRate = rate, WeightDecay = decay, Momentum = 0.9f, MapJ = 3f };
        using var trainer = Create(engine, model, options, images, labels);
        trainer.StepOnce();
        var after = trainer.Model().Parameters;

        // Velocity starts at zero: v = −lr·(g + λw), w' = w + v, for every trainable entry; masked ones stay 0.
        var reference = new ReferenceLeNet(model) { MapJ = 3 };
        var g = reference.Gradient(Enumerable.Range(0, n).Select(i => TestData.Image(images, i, 1024)).ToList(), labels, out _);
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
        // Masked C3 weights stay 0 and an RBF model's centres stay where they were.
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] == 0) Assert.Equal(model.Parameters[i], after[i]);
    }

    [SkippableTheory]
    [OnEveryAccelerator(OptimizerKind.Sgd)]
    [OnEveryAccelerator(OptimizerKind.Adam)]
    public void The_two_engines_agree_on_the_loss_curve_of_whole_epochs(DeviceKind device, OptimizerKind optimizer)
    {
        TestAccelerators.Get(device); // skips at once where there is no such device
        var (images, labels) = TrainerTests.Synthetic(96, seed: 12);
        var options = new TrainingOptions
        {
            Epochs = 2, BatchSize = 16, Optimizer = optimizer, Seed = 4, ReportEvery = 1,
            Distortion = LeNet.Gpu.Engine.Distortion.Default,
        };
        List<double> Curve(DeviceKind engine)
        {
            var losses = new List<double>();
            using var trainer = Create(engine, LeNetModel.CreateRandom(4), options, images, labels);
            trainer.Run(progress: new Recorder(p => losses.Add(p.Running.Loss)));
            return losses;
        }
        var kernels = Curve(device);
        var cpu = Curve(DeviceKind.Cpu);
        Assert.Equal(12, kernels.Count);
        Assert.Equal(kernels.Count, cpu.Count);
        for (int i = 0; i < kernels.Count; i++)
            Assert.True(Math.Abs(kernels[i] - cpu[i]) <= 1e-4 * Math.Max(1, Math.Abs(kernels[i])),
                $"step {i + 1}: running loss {kernels[i]:R} on the kernels, {cpu[i]:R} on the CPU engine");
    }

    /// <summary>
    /// The paper's setting on both engines: RBF output, MAP loss, SDLM with its Hessian re-estimated during the pass;
    /// the per-layer ILGPU kernels (RbfKernels) and the CPU engine (RbfTiles) give the same running losses.
    /// </summary>
    [SkippableTheory]
    [OnEveryAccelerator]
    public void The_two_engines_agree_on_an_rbf_model_trained_by_sdlm(DeviceKind device)
    {
        TestAccelerators.Get(device); // skips at once where there is no such device
        var (images, labels) = TrainerTests.Synthetic(64, seed: 13);
        var options = new TrainingOptions
        {
            // Three passes: the paper's schedule lowers the rate in the third, and μ follows it there, as in the recipe.
            Epochs = 3, BatchSize = 4, Optimizer = OptimizerKind.Sdlm, SdlmMu = 0.2f, SdlmSamples = 16, SdlmInterval = 32,
            MapJ = 3f, Seed = 6, ReportEvery = 2, Schedule = LearningRateSchedule.Paper, SdlmMuFollowsRate = true,
        };
        List<double> Curve(DeviceKind engine)
        {
            var losses = new List<double>();
            using var trainer = Create(engine, LeNetModel.CreateRandom(6, Squashing.ScaledTanh, output: OutputLayer.Rbf), options, images, labels);
            trainer.Run(progress: new Recorder(p => losses.Add(p.Running.Loss)));
            Assert.Equal(OutputLayer.Rbf, trainer.Model().Output);
            Assert.Equal(RbfCodes.Create(), trainer.Model().Tensor(ParameterLayout.OutputWeight).ToArray()); // centres never move
            return losses;
        }
        var kernels = Curve(device);
        var cpu = Curve(DeviceKind.Cpu);
        Assert.Equal(24, kernels.Count);
        Assert.Equal(kernels.Count, cpu.Count);
        Assert.True(kernels[^1] < kernels[0], $"the MAP loss did not fall: {kernels[0]:F3} → {kernels[^1]:F3}");
        for (int i = 0; i < kernels.Count; i++)
            Assert.True(Math.Abs(kernels[i] - cpu[i]) <= 1e-4 * Math.Max(1, Math.Abs(kernels[i])),
                $"report {i + 1}: running MAP loss {kernels[i]:R} on the kernels, {cpu[i]:R} on the CPU engine");
    }

    private sealed class Recorder(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}

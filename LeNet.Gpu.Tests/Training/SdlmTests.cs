using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>
/// SDLM learns from the paper's initialisation with its default settings, per pattern and in batches (it once sat
/// at chance: its rate was applied to batch means, 32 times less per pass than the paper's per-pattern rate, and
/// μ = 0.02 let a softmax network diverge).
/// </summary>
public sealed class SdlmTests
{
    /// <summary>OpenCV's 2,500 training digits, 8 passes (where SDLM used to stay at 10%); the test split scores it.</summary>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(32)]
    public void Sdlm_learns_opencv_digits_on_the_cpu_engine(int batchSize)
    {
        Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);
        var (train, test) = OpenCvDigits.Load(RealData.DigitsPath);
        var options = new TrainingOptions { Epochs = 8, BatchSize = batchSize, Optimizer = OptimizerKind.Sdlm, Seed = 2 };
        using var trainer = Engines.CreateCpuTrainer(LeNetModel.CreateRandom(2), options, train.Images, train.Labels);
        var results = trainer.Run();
        using var engine = Engines.CreateInference(trainer.Model(), DeviceKind.Cpu);
        var predicted = engine.Predict(test.Images).Classes;
        double accuracy = (double)predicted.Where((c, i) => c == test.Labels[i]).Count() / test.Count;
        Assert.True(accuracy >= 0.85,
            $"SDLM at batch {batchSize}: test accuracy {accuracy:P1} after {options.Epochs} epochs " +
            $"(losses {string.Join(", ", results.Select(r => r.Train.Loss.ToString("F3")))})");
    }

    [Fact]
    public void The_rate_is_per_pattern_so_a_batch_steps_by_the_sum_of_its_gradients()
    {
        // One step of batch 4 at rate η moves the weights as four per-pattern steps would at first order: the update is
        // η/(μ + h)·Σ g, not η/(μ + h)·mean g. Checked on the output bias, against the batch-mean gradient times 4.
        var (images, labels) = TrainerTests.Synthetic(4, seed: 3);
        var model = LeNetModel.CreateRandom(4);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 4, Optimizer = OptimizerKind.Sdlm, SdlmSamples = 4, LearningRate = 1e-3f, Seed = 4 };

        var (gradient, hessian) = GradientAndHessian(model, images, labels);

        using var trainer = Engines.CreateCpuTrainer(model, options, images, labels, threads: 1);
        trainer.StepOnce();
        var after = trainer.Model().Parameters;
        for (int i = ParameterLayout.OutputBias.Offset; i < ParameterLayout.OutputBias.End; i++)
        {
            double expected = model.Parameters[i] - 1e-3 * 4 / (options.SdlmMu + hessian[i]) * gradient[i];
            Assert.Equal(expected, after[i], 6);
        }
    }
    [Fact]
    public void Mu_follows_the_rate_when_asked_and_is_constant_otherwise()
    {
        var constant = new TrainingOptions { Optimizer = OptimizerKind.Sdlm, LearningRate = 0.0005f, SdlmMu = 0.2f };
        var follows = constant with { SdlmMuFollowsRate = true };
        Assert.Equal(0.2f, constant.MuAt(0.0001f));
        Assert.Equal(0.2f * (0.0001f / 0.0005f), follows.MuAt(0.0001f));
        Assert.Equal(0.2f, follows.MuAt(0.0005f));
        Assert.Equal(0.2f, follows.MuAt(0f)); // a zero rate steps by 0 whatever μ is; μ stays > 0 so 0/0 never happens
    }

    /// <summary>
    /// The second pass of a step schedule (rate halved) steps by η/2/(μ/2 + h)·Σg when μ follows the rate, by
    /// η/2/(μ + h)·Σg when not: checked on the output bias against a Hessian and gradient computed here.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_second_pass_uses_the_mu_of_its_rate(bool muFollowsRate)
    {
        var (images, labels) = TrainerTests.Synthetic(4, seed: 5);
        var model = LeNetModel.CreateRandom(6);
        var options = new TrainingOptions
        {
            Epochs = 1, BatchSize = 4, Optimizer = OptimizerKind.Sdlm, SdlmSamples = 4, LearningRate = 1e-3f, SdlmMu = 1f,
            Schedule = LearningRateSchedule.Step, StepEpochs = 1, StepGamma = 0.5f, SdlmMuFollowsRate = muFollowsRate, Seed = 6,
        };
        LeNetModel afterFirst;
        using (var first = Engines.CreateCpuTrainer(model, options, images, labels, threads: 1))
        {
            first.Run();
            afterFirst = first.Model();
        }
        var (gradient, hessian) = GradientAndHessian(afterFirst, images, labels);

        using var trainer = Engines.CreateCpuTrainer(model, options with { Epochs = 2 }, images, labels, threads: 1);
        trainer.Run();
        var after = trainer.Model().Parameters;
        double mu = muFollowsRate ? 0.5 : 1.0;
        for (int i = ParameterLayout.OutputBias.Offset; i < ParameterLayout.OutputBias.End; i++)
        {
            double expected = afterFirst.Parameters[i] - 0.5e-3 * 4 / (mu + hessian[i]) * gradient[i];
            Assert.Equal(expected, after[i], 6);
        }
    }

    /// <summary>The batch-mean gradient and Gauss–Newton Hessian diagonal of <paramref name="model"/> on the images, by the CPU engine.</summary>
    private static (float[] Gradient, float[] Hessian) GradientAndHessian(LeNetModel model, float[] images, int[] labels)
    {
        var network = new LeNet.Gpu.Cpu.CpuNetwork(labels.Length, threads: 1);
        network.Forward(model.Parameters, model.Squashing, images, labels.Length);
        var gradient = new float[ParameterLayout.Length];
        var hessian = new float[ParameterLayout.Length];
        network.Backward(model.Parameters, model.Squashing, labels, labels.Length, hessian, secondOrder: true, out _, out _);
        network.Backward(model.Parameters, model.Squashing, labels, labels.Length, gradient, secondOrder: false, out _, out _);
        return (gradient, hessian);
    }
}

using ILGPU.Runtime.CPU;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Training;

/// <summary>
/// The training loop on the CPU accelerator: it learns, it is reproducible, and a run resumed from a checkpoint
/// ends with the same weights as one that was never interrupted.
/// </summary>
public sealed class TrainerTests : IDisposable
{
    private readonly LeNetAccelerator accelerator = LeNetAccelerator.Create(DeviceKind.IlgpuCpu, CPUDeviceKind.Nvidia);
    private readonly string directory = Directory.CreateTempSubdirectory("lenet-trainer-").FullName;

    /// <summary>
    /// Learnable synthetic digits: class c is an ink block at one of ten places, with 10% of pixels flipped
    /// at random, so every image differs and the classes must be told apart by position.
    /// </summary>
    internal static (float[] Images, int[] Labels) Synthetic(int count, int seed)
    {
        var random = new Random(seed);
        var images = new float[count * 1024];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % 10;
            labels[i] = c;
            int top = 4 + c / 5 * 12, left = 2 + c % 5 * 5;
            for (int p = 0; p < 1024; p++)
            {
                int y = p / 32, x = p % 32;
                bool ink = y >= top && y < top + 8 && x >= left && x < left + 6;
                images[i * 1024 + p] = ink ^ (random.NextDouble() < 0.1) ? 1.175f : -0.1f;
            }
        }
        return (images, labels);
    }

    /// <summary>
    /// Adam, because with the paper's ±2.4/F_in initialisation the signal reaching F6 is tiny and SGD and SDLM
    /// spend hundreds of steps on the initial plateau before they learn (kernels.md, README); Adam's per-parameter
    /// scaling leaves it within a few dozen steps.
    /// </summary>
    [Theory]
    [InlineData(OptimizerKind.Adam, 0.002f)]
    public void Overfits_64_images(OptimizerKind optimizer, float rate)
    {
        var (images, labels) = Synthetic(64, seed: 5);
        var options = new TrainingOptions { Epochs = 40, BatchSize = 16, Optimizer = optimizer, LearningRate = rate, Schedule = LearningRateSchedule.Constant, Seed = 3 };
        using var trainer = Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(3), options, images, labels);
        EpochResult? reached = null;
        using var stop = new CancellationTokenSource();
        try
        {
            trainer.Run(r =>
            {
                if (r.Train.Accuracy >= 0.98 && reached is null) { reached = r; stop.Cancel(); }
            }, cancellation: stop.Token);
        }
        catch (OperationCanceledException) { }
        Assert.True(reached is not null, $"{optimizer} did not reach 98% training accuracy on 64 images in {options.Epochs} epochs ({options.Epochs * 4} steps)");

        // The weights after the run classify the training images as the running statistics said.
        using var engine = new IlgpuInferenceEngine(trainer.Model(), accelerator);
        var prediction = engine.Predict(images);
        int correct = prediction.Classes.Where((c, i) => c == labels[i]).Count();
        Assert.True(correct >= 60, $"only {correct}/64 training images right after training");
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sdlm)]
    public void Same_seed_gives_bitwise_identical_weights(OptimizerKind optimizer)
    {
        var (images, labels) = Synthetic(40, seed: 1);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 8, Optimizer = optimizer, SdlmSamples = 16, Seed = 11, ValidationFraction = 0.2 };
        float[] Train()
        {
            using var trainer = Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(11), options, images, labels);
            trainer.Run();
            return trainer.Model().Parameters;
        }
        var first = Train();
        var second = Train();
        Assert.Equal(first, second); // exact float equality, element by element
        Assert.NotEqual(LeNetModel.CreateRandom(11).Parameters, first); // and training did move them
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sdlm)]
    public void Resuming_from_a_checkpoint_reaches_the_uninterrupted_weights(OptimizerKind optimizer)
    {
        var (images, labels) = Synthetic(32, seed: 2);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 8, Optimizer = optimizer, SdlmSamples = 16, Seed = 5 };
        var initial = LeNetModel.CreateRandom(5);

        float[] uninterrupted;
        using (var trainer = Engines.CreateTrainer(accelerator, initial, options, images, labels))
        {
            trainer.Run();
            uninterrupted = trainer.Model().Parameters;
        }

        // Stop after the first epoch (as a crash would), keeping its checkpoint; then resume in a new trainer.
        string path = Path.Combine(directory, $"{optimizer}.ckpt");
        using (var trainer = Engines.CreateTrainer(accelerator, initial, options, images, labels))
        using (var stop = new CancellationTokenSource())
        {
            Assert.Throws<OperationCanceledException>(() => trainer.Run(r =>
            {
                CheckpointFile.Save(trainer.Checkpoint(), optimizer, path);
                stop.Cancel();
            }, cancellation: stop.Token));
            Assert.Equal(1, trainer.EpochsCompleted);
        }
        var checkpoint = CheckpointFile.Load(path, optimizer);
        Assert.Equal(1, checkpoint.EpochsCompleted);
        Assert.Equal(4, checkpoint.Steps);
        using (var resumed = Engines.ResumeTrainer(accelerator, checkpoint, options, images, labels))
        {
            var results = resumed.Run();
            Assert.Equal([2, 3], results.Select(r => r.Epoch));
            Assert.Equal(uninterrupted, resumed.Model().Parameters);
        }
    }

    [Fact]
    public void Cancellation_stops_at_a_batch_boundary_and_keeps_the_last_complete_checkpoint()
    {
        var (images, labels) = Synthetic(48, seed: 4);
        var options = new TrainingOptions { Epochs = 5, BatchSize = 8, Seed = 2, ReportEvery = 1 };
        string path = Path.Combine(directory, "cancel.ckpt");
        using var trainer = Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(2), options, images, labels);
        using var stop = new CancellationTokenSource();
        var progress = new Recorder(p => { if (p.Epoch == 1 && p.Batch == 3) stop.Cancel(); });
        Assert.Throws<OperationCanceledException>(() =>
            trainer.Run(_ => CheckpointFile.Save(trainer.Checkpoint(), options.Optimizer, path), progress, stop.Token));
        Assert.Equal(1, trainer.EpochsCompleted);
        Assert.Equal(6 + 3, trainer.Steps); // one whole epoch of 6 batches, then 3 batches of the second
        var saved = CheckpointFile.Load(path, options.Optimizer);
        Assert.Equal(1, saved.EpochsCompleted);
        Assert.Equal(6, saved.Steps);
        Assert.Empty(Directory.GetFiles(directory, "*.tmp-*")); // atomic writes leave no temporary files
    }

    [Fact]
    public void Masked_C3_weights_never_move_whatever_the_rate_and_decay()
    {
        var (images, labels) = Synthetic(16, seed: 9);
        foreach (var optimizer in Enum.GetValues<OptimizerKind>())
        {
            var options = new TrainingOptions { Epochs = 1, BatchSize = 8, Optimizer = optimizer, LearningRate = 5f, WeightDecay = 1f, SdlmSamples = 8 };
            using var trainer = Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), options, images, labels);
            trainer.Run();
            var after = trainer.Model().Parameters;
            var mask = ParameterLayout.TrainableMask();
            for (int i = 0; i < after.Length; i++)
                if (mask[i] == 0) Assert.Equal(0f, after[i]);
        }
    }

    [Fact]
    public void Bad_training_input_is_a_clear_error()
    {
        var options = new TrainingOptions();
        var e = Assert.Throws<ArgumentException>(() => Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), options, new float[1000], [0]));
        Assert.Contains("32×32", e.Message);
        e = Assert.Throws<ArgumentException>(() => Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), options, new float[2048], [0]));
        Assert.Contains("2 training images but 1 labels", e.Message);
        e = Assert.Throws<ArgumentException>(() => Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), options, new float[1024], [10]));
        Assert.Contains("label 10", e.Message);
        e = Assert.Throws<ArgumentException>(() => Engines.CreateTrainer(accelerator, LeNetModel.CreateRandom(1), options with { BatchSize = 0 }, new float[1024], [1]));
        Assert.Contains("batch size", e.Message);
        // NaN fails every comparison: each range check must still refuse it.
        foreach (var (bad, name) in new[]
        {
            (options with { Momentum = float.NaN }, "momentum"), (options with { WeightDecay = float.NaN }, "weight decay"),
            (options with { ValidationFraction = double.NaN }, "validation"),
            (options with { Distortion = Distortion.Default with { MaxScale = 5 } }, "distortion"),
            (options with { Distortion = Distortion.Default with { MaxShift = float.NaN } }, "distortion"),
        })
        {
            e = Assert.Throws<ArgumentException>(() => Engines.CreateCpuTrainer(LeNetModel.CreateRandom(1), bad, new float[1024], [1]));
            Assert.Contains(name, e.Message);
        }
    }

    [Fact]
    public void A_diverging_run_stops_before_its_epoch_is_checkpointed()
    {
        // Weight decay 1e30: each step multiplies the weights by about −2e28, so they overflow within two steps and
        // the epoch's mean loss is not finite.
        var images = TestData.RandomImages(64, seed: 3);
        var labels = Enumerable.Range(0, 64).Select(i => i % 10).ToArray();
        var options = new TrainingOptions { Epochs = 3, BatchSize = 16, WeightDecay = 1e30f, Schedule = LearningRateSchedule.Constant };
        using var trainer = Engines.CreateCpuTrainer(LeNetModel.CreateRandom(1), options, images, labels);
        int epochsSeen = 0;
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(_ => epochsSeen++));
        Assert.Equal(1, e.Epoch);
        Assert.Equal(0, epochsSeen);
        Assert.Equal(0, trainer.EpochsCompleted);
        Assert.Contains("diverged in epoch 1", e.Message);
    }

    private sealed class Recorder(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    public void Dispose()
    {
        accelerator.Dispose();
        Directory.Delete(directory, recursive: true);
    }
}

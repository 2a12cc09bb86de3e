using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Training;
using Xunit;

namespace LeNet.Gpu.Tests.Robustness;

/// <summary>A checkpoint resumes only when it is whole and what it says is consistent; else one line says why.</summary>
public sealed class CheckpointIntegrityTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static readonly TrainingOptions Options = new() { Epochs = 2, BatchSize = 8, Optimizer = OptimizerKind.Adam, Seed = 3 };

    /// <summary>A real checkpoint after one epoch of Adam on 32 synthetic digits, and the data it was trained on.</summary>
    private (string Path, float[] Images, int[] Labels) OneEpoch()
    {
        var (images, labels) = TrainerTests.Synthetic(32, seed: 1);
        using var trainer = Engines.CreateCpuTrainer(LeNetModel.CreateRandom(3), Options with { Epochs = 1 }, images, labels, threads: 1);
        trainer.Run();
        string path = temp.File("run.ckpt");
        CheckpointFile.Save(trainer.Checkpoint(), OptimizerKind.Adam, path);
        return (path, images, labels);
    }

    [Fact]
    public void A_flipped_bit_anywhere_in_the_tensors_is_refused()
    {
        var (path, _, _) = OneEpoch();
        Assert.Equal(1, CheckpointFile.Load(path, OptimizerKind.Adam).EpochsCompleted);
        var bytes = File.ReadAllBytes(path);
        foreach (int offset in new[] { bytes.Length - 1, bytes.Length / 2, bytes.Length - 4 * ParameterLayout.Length - 3 })
        {
            var flipped = (byte[])bytes.Clone();
            flipped[offset] ^= 0x10;
            string copy = temp.File($"flipped-{offset}.ckpt");
            File.WriteAllBytes(copy, flipped);
            var e = Assert.Throws<ModelFormatException>(() => CheckpointFile.Load(copy, OptimizerKind.Adam));
            Assert.Contains(copy, e.Message);
            Assert.Contains("checksum", e.Message);
        }
    }

    [Fact]
    public void A_checkpoint_writes_the_state_named_for_what_it_holds_and_one_with_the_old_names_still_resumes()
    {
        var (path, images, labels) = OneEpoch();
        var content = SafeTensors.Read(path);
        var state = content.Tensors.Where(t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal)).Select(t => t.Name).Order().ToArray();
        Assert.Equal(["optimizer.first_moment", "optimizer.second_moment"], state);

        // The same checkpoint as versions before the names wrote it: the two slots called a and b, sealed again.
        var renamed = content.Tensors.Select(t => t.Name switch
        {
            "optimizer.first_moment" => t with { Name = "optimizer.a" },
            "optimizer.second_moment" => t with { Name = "optimizer.b" },
            _ => t,
        }).ToList();
        var metadata = content.Metadata.ToDictionary();
        metadata[CheckpointFile.ChecksumKey] = CheckpointFile.Checksum(renamed, metadata);
        string old = temp.File("old-names.ckpt");
        File.WriteAllBytes(old, SafeTensors.ToBytes(renamed, metadata));

        var fresh = CheckpointFile.Load(path, OptimizerKind.Adam);
        var loaded = CheckpointFile.Load(old, OptimizerKind.Adam);
        Assert.Equal(fresh.OptimizerState.Keys.Order(), loaded.OptimizerState.Keys.Order());
        foreach (var (name, values) in fresh.OptimizerState) Assert.Equal(values, loaded.OptimizerState[name]);

        // Both resume to the same weights.
        using var fromFresh = Engines.ResumeCpuTrainer(fresh, Options, images, labels, threads: 1);
        using var fromOld = Engines.ResumeCpuTrainer(loaded, Options, images, labels, threads: 1);
        fromFresh.Run();
        fromOld.Run();
        Assert.Equal(fromFresh.Model().Parameters, fromOld.Model().Parameters);
    }

    [Fact]
    public void A_checkpoint_missing_optimizer_state_or_its_checksum_is_refused()
    {
        var (path, _, _) = OneEpoch();
        var content = SafeTensors.Read(path);
        // Adam's second moment dropped, everything else kept as written (checksum included).
        File.WriteAllBytes(temp.File("no-b.ckpt"), SafeTensors.ToBytes(content.Tensors.Where(t => t.Name != "optimizer.second_moment").ToList(), content.Metadata));
        var e = Assert.Throws<ModelFormatException>(() => CheckpointFile.Load(temp.File("no-b.ckpt"), OptimizerKind.Adam));
        Assert.Contains("optimizer.second_moment", e.Message);

        var metadata = content.Metadata.Where(kv => kv.Key != CheckpointFile.ChecksumKey).ToDictionary();
        File.WriteAllBytes(temp.File("unsigned.ckpt"), SafeTensors.ToBytes(content.Tensors, metadata));
        e = Assert.Throws<ModelFormatException>(() => CheckpointFile.Load(temp.File("unsigned.ckpt"), OptimizerKind.Adam));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void A_step_count_that_does_not_match_the_epochs_is_refused_on_resume()
    {
        var (path, images, labels) = OneEpoch();
        var checkpoint = CheckpointFile.Load(path, OptimizerKind.Adam);
        Assert.Equal(4, checkpoint.Steps);
        // Saved through the normal path, so the checksum is right and only the content is wrong.
        CheckpointFile.Save(checkpoint with { Steps = 7 }, OptimizerKind.Adam, temp.File("steps.ckpt"));
        var wrong = CheckpointFile.Load(temp.File("steps.ckpt"), OptimizerKind.Adam);
        var e = Assert.Throws<ArgumentException>(() => Engines.ResumeCpuTrainer(wrong, Options, images, labels, threads: 1));
        Assert.Contains("7 steps", e.Message);
    }

    /// <summary>The library checks a resume itself (not only the command line): another seed, rate or data is refused.</summary>
    [Fact]
    public void A_library_resume_with_other_settings_or_data_is_refused()
    {
        var (path, images, labels) = OneEpoch();
        var checkpoint = CheckpointFile.Load(path, OptimizerKind.Adam);
        Assert.Equal("3", checkpoint.Model.Metadata["run.seed"]);
        Assert.StartsWith("32 training images, SHA-256 ", checkpoint.Model.Metadata["run.data"]);

        var e = Assert.Throws<ResumeMismatchException>(() => Engines.ResumeCpuTrainer(checkpoint, Options with { Seed = 4 }, images, labels, threads: 1));
        Assert.Equal("the checkpoint was written with seed 3; this run has 4: resume with the same options and data", e.Message);
        e = Assert.Throws<ResumeMismatchException>(() => Engines.ResumeCpuTrainer(checkpoint, Options with { LearningRate = 0.01f }, images, labels, threads: 1));
        Assert.Contains("was written with learning rate 0.002; this run has 0.01", e.Message);
        var otherLabels = (int[])labels.Clone();
        otherLabels[0] = (otherLabels[0] + 1) % 10;
        e = Assert.Throws<ResumeMismatchException>(() => Engines.ResumeCpuTrainer(checkpoint, Options, images, otherLabels, threads: 1));
        Assert.Contains("was written with data 32 training images, SHA-256", e.Message);
        e = Assert.Throws<ResumeMismatchException>(() => RunSettings.CheckSquashing(checkpoint, Squashing.Sigmoid));
        Assert.Contains("squashing; this run has sigmoid", e.Message);

        // The same settings and data continue the run.
        using var resumed = Engines.ResumeCpuTrainer(checkpoint, Options, images, labels, threads: 1);
        Assert.Equal(1, resumed.EpochsCompleted);
    }

    [Fact]
    public void A_checkpoint_given_as_a_model_says_to_resume_from_it()
    {
        var (path, _, _) = OneEpoch();
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
        Assert.Contains("training checkpoint", e.Message);
        Assert.Contains("--resume", e.Message);
    }

    public void Dispose() => temp.Dispose();
}

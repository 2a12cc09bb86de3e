using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Robustness;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// <c>lenet train</c> interrupted as it would be in real life: killed outright (SIGKILL) at several points and
/// resumed, asked to stop (Ctrl+C, SIGTERM), started twice on the same files, and left with a killed write's
/// temporary file. Nothing is lost, nothing is overwritten, and a resumed run ends where an uninterrupted one does.
/// </summary>
public sealed class FaultInjectionTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    /// <summary>Options of the small runs: 400 learnable images, 20 steps an epoch, 4 epochs, Adam (two state tensors).</summary>
    private static string[] Small(string data, string output, int epochs = 4) =>
        ["train", "--data", data, "--epochs", epochs.ToString(), "--batch-size", "20", "--optimizer", "adam", "--seed", "3",
         "--no-progress", "--device", "cpu", "-o", output];

    /// <summary>A run long enough to be interrupted during its first epoch even on a loaded machine: 30,000 images, one
    /// per step (about 3 s an epoch alone, 20 epochs: the tests always stop it; 5,000 images finished three epochs before a late signal under load).</summary>
    private static string[] Long(string data, string output) =>
        ["train", "--data", data, "--epochs", "20", "--batch-size", "1", "--no-progress", "--device", "cpu", "-o", output];

    private static float[] WeightsOf(string model) => ModelFile.Load(model).Parameters;

    private static Dictionary<string, float[]> StateOf(string checkpoint) =>
        SafeTensors.Read(checkpoint).Tensors.ToDictionary(t => t.Name, t => t.Data);

    [Fact]
    public void Killed_at_several_points_and_resumed_it_ends_bitwise_where_an_uninterrupted_run_does()
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 400, test: 20);
        var whole = LenetProcess.RunWithin(Limit, temp.Path, Small(data, "whole.safetensors"));
        Assert.True(whole.ExitCode == 0, whole.Stderr);
        var expectedWeights = WeightsOf(temp.File("whole.safetensors"));
        var expectedState = StateOf(temp.File("whole.safetensors.ckpt"));

        // Where each kill lands: before any checkpoint, right after one is written (inside the next epoch), and a
        // little later (anywhere in an epoch or in a checkpoint's write).
        var points = new (string Line, int DelayMs)[] { ("training on", 0), ("epoch 1:", 0), ("epoch 2:", 25) };
        foreach (var (line, delay) in points)
        {
            string folder = Path.Combine(temp.Path, $"kill-{line.Replace(' ', '-').TrimEnd(':')}");
            Directory.CreateDirectory(folder);
            string output = Path.Combine(folder, "model.safetensors"), checkpoint = output + ".ckpt";
            using (var run = new RunningLenet(temp.Path, Small(data, output)))
            {
                Assert.True(run.WaitForLine(line, Limit), $"never saw '{line}':\n{run.Stderr}");
                if (delay > 0) Thread.Sleep(delay);
                run.Signal("KILL");
                Assert.Equal(137, run.WaitForExit(Limit));
            }
            Assert.False(File.Exists(output), $"killed at '{line}', a model was written");
            var resumed = LenetProcess.RunWithin(Limit, temp.Path, File.Exists(checkpoint) ? [.. Small(data, output), "--resume", checkpoint] : Small(data, output));
            Assert.True(resumed.ExitCode == 0, $"killed at '{line}': {resumed.Stderr}");
            Assert.Equal(expectedWeights, WeightsOf(output));
            var state = StateOf(checkpoint);
            foreach (var (name, values) in expectedState.Where(kv => kv.Key.StartsWith("optimizer.", StringComparison.Ordinal)))
                Assert.Equal(values, state[name]);
            Assert.Empty(Directory.GetFiles(folder, "*.tmp-*"));
            Assert.Empty(Directory.GetFiles(folder, "*.lock"));
        }
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public void Stopped_before_the_first_checkpoint_it_says_none_was_written(string signal)
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "many", train: 30_000, test: 10);
        using var run = new RunningLenet(temp.Path, Long(data, "model.safetensors"));
        Assert.True(run.WaitForLine("training on", Limit), run.Stderr);
        run.Signal(signal);
        Assert.Equal(1, run.WaitForExit(Limit));
        string last = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith("lenet: ", last);
        Assert.Contains("no checkpoint was written", last);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(File.Exists(temp.File("model.safetensors.ckpt")));
        Assert.False(File.Exists(temp.File("model.safetensors")));
    }

    [Fact]
    public void Sigterm_after_a_checkpoint_stops_gracefully_and_names_it()
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 1_000, test: 10);
        using var run = new RunningLenet(temp.Path, ["train", "--data", data, "--epochs", "200", "--batch-size", "1", "--no-progress", "--device", "cpu", "-o", "model.safetensors"]);
        Assert.True(run.WaitForLine("epoch 1:", Limit), run.Stderr);
        run.Signal("TERM");
        Assert.Equal(1, run.WaitForExit(Limit));
        string last = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Contains("model.safetensors.ckpt", last);
        Assert.Contains("--resume", last);
        Assert.True(CheckpointFile.Load(temp.File("model.safetensors.ckpt"), Gpu.Engine.OptimizerKind.Sgd).EpochsCompleted >= 1);
    }

    [Fact]
    public void A_second_run_on_the_same_output_or_checkpoint_is_refused_while_the_first_holds_it()
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "many", train: 30_000, test: 10);
        using var first = new RunningLenet(temp.Path, Long(data, "held.safetensors"));
        Assert.True(first.WaitForLine("training on", Limit), first.Stderr);

        var second = LenetProcess.RunWithin(Limit, temp.Path, Long(data, "held.safetensors"));
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("held.safetensors", second.Stderr);
        Assert.Contains("in use", second.Stderr);
        Assert.DoesNotContain("training on", second.Stderr);

        var third = LenetProcess.RunWithin(Limit, temp.Path, [.. Long(data, "other.safetensors"), "--checkpoint", "held.safetensors.ckpt"]);
        Assert.Equal(1, third.ExitCode);
        Assert.Contains("held.safetensors.ckpt", third.Stderr);
        Assert.Contains("in use", third.Stderr);

        first.Signal("TERM");
        Assert.Equal(1, first.WaitForExit(Limit));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.lock"));
    }

    [Fact]
    public void A_killed_writes_temporary_file_is_cleaned_by_the_next_write()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        string stale = AtomicFile.TemporaryPath(temp.File("model.safetensors"), FileSystem.DeadProcessId());
        string staleCheckpoint = AtomicFile.TemporaryPath(temp.File("model.safetensors.ckpt"), FileSystem.DeadProcessId());
        File.WriteAllText(stale, "half a model");
        File.WriteAllText(staleCheckpoint, "half a checkpoint");
        var r = LenetProcess.RunWithin(Limit, temp.Path, ["train", "--data", data, "--epochs", "1", "--no-progress", "--device", "cpu", "-o", "model.safetensors"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(["model.safetensors", "model.safetensors.ckpt", "tiny"],
            Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName).Order());
    }

    public void Dispose() => temp.Dispose();
}

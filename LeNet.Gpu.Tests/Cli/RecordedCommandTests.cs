using System.Runtime.InteropServices;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// A trained model's <c>command</c> names every setting that shapes its weights, defaults included, so that it trains
/// the same weights after a default changes; run again (at another vector width) it gives the same tensors, and the
/// file records the engine and its width.
/// </summary>
public sealed class RecordedCommandTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData("softmax", "128")]
    [InlineData("recipe", "512")]
    public void The_recorded_command_names_the_defaults_and_trains_the_same_tensors_at_another_width(string kind, string bits)
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "tiny", train: 40, test: 10);
        string[] given = kind == "recipe"
            ? ["train", "--recipe", "paper", "--data", data, "--epochs", "1", "--no-progress", "--device", "cpu", "-o", "first.safetensors"]
            : ["train", "--data", data, "--epochs", "1", "--batch-size", "7", "--distort", "--no-progress", "--device", "cpu", "-o", "first.safetensors"];
        var first = LenetProcess.Run(temp.Path, given);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var metadata = ModelFile.Load(temp.File("first.safetensors")).Metadata;
        string command = metadata["command"];
        Assert.StartsWith("lenet " + string.Join(' ', given.Take(given.Length - 1)), command.Replace(" 2,0.15,0.15,0.2", ""));
        string[] expected = kind == "recipe"
            ? ["--batch-size 1", "--optimizer sdlm", "--lr 0.0005", "--schedule paper", "--init paper", "--output-layer rbf",
               "--convolutions squashed", "--map-j 10", "--mu 0.2", "--mu-follows-rate true", "--hessian-every 2000", "--weight-decay 0"]
            : ["--distort 2,0.15,0.15,0.2", "--optimizer sgd", "--lr 0.02", "--schedule cosine", "--momentum 0.9", "--weight-decay 0",
               "--seed 1", "--init input-scaled", "--squashing scaled-tanh", "--validation 0", "--output-layer softmax", "--convolutions linear"];
        foreach (var part in expected) Assert.Contains(part + " ", command + " ");
        Assert.DoesNotContain(kind == "recipe" ? "--momentum" : "--mu", command);
        Assert.Equal("cpu", metadata[Provenance.Engine]);
        Assert.Contains(metadata[Provenance.VectorBits], new[] { "128", "256", "512" });

        // The recorded command, to another file, at a forced width.
        var again = command.Split(' ').Skip(1).Select(word => word == "first.safetensors" ? "again.safetensors" : word).ToArray();
        var environment = new Dictionary<string, string?>(LenetProcess.CliEnvironment) { ["LENET_CPU_VECTOR_BITS"] = bits };
        var second = LenetProcess.RunAssembly(LenetProcess.CliPath, temp.Path, environment, again);
        Assert.True(second.ExitCode == 0, second.Stderr);
        var retrained = ModelFile.Load(temp.File("again.safetensors"));
        Assert.Equal(bits, retrained.Metadata[Provenance.VectorBits]);
        Assert.True(MemoryMarshal.AsBytes(ModelFile.Load(temp.File("first.safetensors")).Parameters.AsSpan())
            .SequenceEqual(MemoryMarshal.AsBytes(retrained.Parameters.AsSpan())), "the recorded command trained other weights");
        Assert.Equal(command.Replace("first.safetensors", "again.safetensors"), retrained.Metadata["command"]); // nothing left to add
    }
}

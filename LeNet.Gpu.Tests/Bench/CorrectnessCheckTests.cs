using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Bench;

/// <summary>
/// The lease's correctness check (<c>LeNet.Gpu.Bench --check</c>), run small on ILGPU's CPU accelerator: per-layer and
/// fused, floats and bytes, at each batch size, against the CPU engine; and it fails when the tolerance is missed.
/// </summary>
public sealed class CorrectnessCheckTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    private Cli.LenetProcess.Result Check(params string[] args) =>
        Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), folder.Path,
            new Dictionary<string, string?> { ["LENET_CHECK_DATA"] = null }, ["--check", "--device", "ilgpu-cpu", .. args]);

    [Fact]
    public void EveryPathInputAndBatchMatchesTheCpuEngine()
    {
        string output = folder.File("check.md");
        var run = Check("--images", "12", "--batches", "1,16", "--output", output);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stderr}\n{run.Stdout}");
        var rows = File.ReadAllLines(output).Where(l => l.StartsWith("| per-layer") || l.StartsWith("| fused")).ToList();
        // 2 batches × 2 paths × 2 inputs; batch 16 is larger than the 12 images, which repeat to fill it.
        Assert.Equal(8, rows.Count);
        Assert.All(rows, r => Assert.EndsWith("| pass |", r));
        Assert.Equal(4, rows.Count(r => r.Contains("| 16 | 16 |")));
        Assert.Contains("12 random images (no --data)", run.Stdout);
        Assert.Contains("all 8 cases pass", run.Stdout);
    }

    [Fact]
    public void ATighterToleranceThanTheEnginesAgreeToFails()
    {
        // ILGPU's kernels and the CPU engine sum in different orders: their probabilities differ by ~1e-7, not 1e-12.
        var run = Check("--images", "4", "--batches", "4", "--tolerance", "1e-12");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("| FAIL |", run.Stdout);
        Assert.Contains("cases FAIL", run.Stdout);
    }

    /// <summary>Where CUDA is present (a GPU machine with the SDK): the lease's full check, every batch 1 to 65,536.</summary>
    [SkippableFact]
    public void OnCudaEveryBenchmarkedBatchMatchesTheCpuEngine()
    {
        Skip.IfNot(Support.Devices.Has(LeNet.Gpu.Runtime.DeviceKind.Cuda), $"no CUDA device here (present: {Support.Devices.List})");
        var run = Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), folder.Path,
            new Dictionary<string, string?>(), "--check", "--device", "cuda", "--images", "10000");
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stderr}\n{run.Stdout}");
        Assert.Contains("all 20 cases pass", run.Stdout);
    }

    [Theory]
    [InlineData("--device", "cpu")]
    [InlineData("--batches", "0")]
    [InlineData("--frobnicate", "1")]
    public void BadOptionsAreOneLine(string option, string value)
    {
        var run = Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), folder.Path,
            new Dictionary<string, string?>(), "--check", option, value);
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("--check: ", run.Stderr);
        Assert.Single(run.Stderr.Trim().Split('\n'));
    }
}

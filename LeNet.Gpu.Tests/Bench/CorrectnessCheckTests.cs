using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
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

    /// <summary>
    /// MNIST's test split for the CUDA check, where this machine has it: <c>$LENET_MNIST</c>, the data cache's mnist
    /// folder (<c>$LENET_DATA</c> or ~/.cache/lenet), or pack-gpu.sh's copy beside the bench (the folders pack-gpu.sh
    /// looks in); null when none holds the test images.
    /// </summary>
    private static string? MnistTestFolder() =>
        new[]
        {
            Environment.GetEnvironmentVariable("LENET_MNIST"),
            LeNet.Gpu.Data.DataCatalog.Find(LeNet.Gpu.Data.DataCatalog.Mnist),
            Path.Combine(Support.Repository.Root, "LeNet.Gpu.Bench", "gpu-pack", "mnist"),
        }.FirstOrDefault(d => !string.IsNullOrWhiteSpace(d) && Directory.Exists(d)
            && LeNet.Gpu.Data.IdxDirectory.FindFile(d, LeNet.Gpu.Data.DataSplit.Test, labels: false) is not null);

    /// <summary>
    /// Where CUDA is present (a GPU machine with the SDK): the lease's full check, on MNIST's 10,000 test images when
    /// this machine has them (else random ones, as the output says), at batch 1, 64, 1,024, 16,384 and 65,536.
    /// </summary>
    [SkippableFact]
    public void OnCudaEveryBenchmarkedBatchMatchesTheCpuEngine()
    {
        Skip.IfNot(Support.Devices.Has(LeNet.Gpu.Engine.DeviceKind.Cuda), $"no CUDA device here (present: {Support.Devices.List})");
        string? mnist = MnistTestFolder();
        string[] data = mnist is null ? [] : ["--data", mnist];
        var run = Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), folder.Path,
            new Dictionary<string, string?> { ["LENET_CHECK_DATA"] = null }, ["--check", "--device", "cuda", "--images", "10000", .. data]);
        string source = mnist is null ? "on random images (no MNIST test split found)" : $"on MNIST's test images from {mnist}";
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode} {source}\n{run.Stderr}\n{run.Stdout}");
        Assert.Contains(mnist is null ? "10,000 random images" : $"from {mnist}, first 10,000 images", run.Stdout);
        Assert.Contains("all 20 cases pass", run.Stdout);
    }

    /// <summary>
    /// Where OpenCL is present (PoCL in the root of <c>.ci/opencl-root.sh</c>): the check at batch 1, 64, 1,024 and
    /// 16,384, on MNIST's first 2,000 test images when the data cache has them (fewer than the CUDA check's 10,000:
    /// PoCL on two cores runs about a thousand images a second, and the OpenCL tier has minutes, not hours).
    /// </summary>
    [SkippableFact]
    [Trait(OpenCLTier.Trait, OpenCLTier.Value)]
    public void OnOpenCLEveryBenchmarkedBatchUpTo16384MatchesTheCpuEngine()
    {
        Skip.IfNot(Support.Devices.Has(LeNet.Gpu.Engine.DeviceKind.OpenCL), Support.TestAccelerators.AbsentReason(LeNet.Gpu.Engine.DeviceKind.OpenCL));
        string? mnist = MnistTestFolder();
        string[] data = mnist is null ? [] : ["--data", mnist];
        var run = Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), folder.Path,
            new Dictionary<string, string?> { ["LENET_CHECK_DATA"] = null },
            ["--check", "--device", "opencl", "--images", "2000", "--batches", "1,64,1024,16384", .. data]);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stderr}\n{run.Stdout}");
        Assert.Contains(mnist is null ? "2,000 random images" : $"from {mnist}, first 2,000 images", run.Stdout);
        Assert.Contains("all 16 cases pass", run.Stdout);
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

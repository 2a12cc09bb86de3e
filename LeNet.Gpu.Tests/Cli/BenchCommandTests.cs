using System.Text.Json;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary><c>lenet bench --device cpu</c> reports the engine's share of the FMA floor beside its images/s.</summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Cpu_bench_reports_a_share_of_the_fma_floor_for_every_batch()
    {
        var r = LenetProcess.Run(temp.Path, "bench", "--device", "cpu", "--batch-sizes", "1", "16", "--seconds", "0.2", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.True(json.RootElement.GetProperty("fma_ceiling_multiply_adds_per_second").GetDouble() > 0);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([1, 16], results.Select(x => x.GetProperty("batch_size").GetInt32()));
        foreach (var row in results)
        {
            double share = row.GetProperty("share_of_fma_floor").GetDouble(), rate = row.GetProperty("images_per_second").GetDouble();
            // A share is images/s over a rate the engine cannot beat: positive, and under 1 by any sane margin.
            Assert.True(share > 0 && share < 1.5, $"share {share}");
            Assert.True(rate > 0);
        }
    }
}

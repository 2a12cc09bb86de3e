using System.Globalization;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Bench;

/// <summary>
/// The benchmark suite's smoke run, as CI and a short GPU lease use it: `--quick --in-process` on one class, on ILGPU's
/// CPU accelerator. It checks that the cases set up, run and report an images/s column — never how fast they are
/// (benchmarks are timed by BenchmarkDotNet, not by tests).
/// </summary>
public sealed class BenchSmokeTests : IDisposable
{
    private readonly TempDirectory artifacts = new();

    public void Dispose() => artifacts.Dispose();

    [Fact]
    public void Quick_in_process_run_of_the_device_resident_benchmarks_reports_images_per_second()
    {
        var run = Cli.LenetProcess.RunAssembly(Support.Repository.BuiltAssembly("LeNet.Gpu.Bench", "LeNet.Gpu.Bench.dll"), artifacts.Path,
            new Dictionary<string, string?> { ["LENET_BENCH_DEVICES"] = "ilgpu-cpu" },
            "--quick", "--in-process", "--filter", "*DeviceResident*", "--artifacts", artifacts.Path);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Stderr}\n{run.Stdout[^Math.Min(3000, run.Stdout.Length)..]}");

        // BenchmarkDotNet's CSV report: one row per case, with our images/s column filled in.
        string csv = Assert.Single(Directory.GetFiles(Path.Combine(artifacts.Path, "results"), "*-report.csv"));
        var lines = File.ReadAllLines(csv);
        var header = SplitCsv(lines[0]);
        int column = header.IndexOf("images/s");
        Assert.True(column >= 0, $"no images/s column in {string.Join(", ", header)}");
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(SplitCsv).ToList();
        // Per-layer and fused, floats and bytes, batch 64: the CPU accelerator's four cases.
        Assert.Equal(4, rows.Count);
        foreach (var row in rows)
            Assert.True(double.TryParse(row[column], NumberStyles.Number, CultureInfo.InvariantCulture, out double rate) && rate > 0,
                $"images/s is '{row[column]}' in: {string.Join(", ", row)}");
    }

    /// <summary>Fields of one CSV line (BenchmarkDotNet quotes fields that hold commas, such as "1,062").</summary>
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        foreach (char c in line)
        {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }
}

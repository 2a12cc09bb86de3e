using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Bench;

/// <summary>
/// The GPU lease runner's contract that needs no GPU and no time: bad arguments are refused, and a budget too small
/// for any part still leaves exactly one archive (with steps.txt saying what was skipped) and nothing else in $OUT.
/// </summary>
public sealed class RunGpuScriptTests : IDisposable
{
    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    private (int Code, string Output) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Support.Repository.Root, "LeNet.Gpu.Bench", "run-gpu.sh"));
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "run-gpu.sh ran over 2 minutes");
        return (process.ExitCode, output.Result + error.Result);
    }

    [Theory]
    [InlineData("--budget", "soon")]
    [InlineData("--budget", "")]
    [InlineData("frobnicate", "probe")]
    public void BadArgumentsAreRefused(string first, string second)
    {
        var (code, output) = Run(new Dictionary<string, string> { ["OUT"] = folder.File("out") }, first, second);
        Assert.Equal(2, code);
        Assert.StartsWith("run-gpu.sh: ", output);
        Assert.False(Directory.Exists(folder.File("out")) && Directory.EnumerateFileSystemEntries(folder.File("out")).Any());
    }

    [Fact]
    public void ABudgetTooSmallForAnyPartStillLeavesOneArchive()
    {
        string output = folder.File("out"), work = folder.File("work");
        Directory.CreateDirectory(output);
        // USE_PACK without a pack: nothing is built or unpacked, so the run costs seconds.
        var (code, text) = Run(new Dictionary<string, string> { ["OUT"] = output, ["RESULTS"] = work, ["USE_PACK"] = "1" },
            "--budget", "25", "probe", "check", "layers");
        Assert.True(code == 0, text);
        string archive = Assert.Single(Directory.GetFiles(output));
        Assert.Equal("lenet-gpu-results.tar.gz", Path.GetFileName(archive));
        Assert.Empty(Directory.GetDirectories(output));

        var names = new List<string>();
        string? steps = null;
        using (var gzip = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
            for (var entry = tar.GetNextEntry(); entry is not null; entry = tar.GetNextEntry())
            {
                names.Add(entry.Name.TrimStart('.', '/'));
                if (entry.Name.EndsWith("steps.txt")) steps = new StreamReader(entry.DataStream!).ReadToEnd();
            }
        Assert.Contains("summary.md", names);
        Assert.NotNull(steps);
        // 25 s less the 20 kept for the archive: 5 s, less than any part's estimate.
        Assert.Contains("=== probe: skipped for time (estimate 20 s, ", steps);
        Assert.Contains("=== check: skipped for time", steps);
        Assert.Contains("=== layers: skipped for time", steps);
    }
}

using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using LeNet.Gpu.Tests.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Bench;

/// <summary>
/// The GPU lease runner's contract that needs no GPU and no time: bad arguments are refused, and a budget too small
/// for any part still leaves exactly one archive (with steps.txt saying what was skipped) and nothing else in $OUT.
/// With a stand-in bench (LENET_BENCH): the exit status tells a failed check from an unfinished one, a part's steps
/// share one deadline, and an archive too large for the run tool leaves logs out.
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

    /// <summary>
    /// A stand-in for LeNet.Gpu.Bench: no CUDA (--devices fails, so a dry run); --check exits $FAKE_CHECK_EXIT;
    /// --probabilities sleeps $FAKE_SLEEP seconds; a BenchmarkDotNet run writes a 20 MiB incompressible log into its
    /// --artifacts folder, as BenchmarkDotNet's own log.
    /// </summary>
    private string StandInBench()
    {
        string path = folder.File("bench.sh");
        File.WriteAllText(path, """
            #!/usr/bin/env bash
            case " $* " in
            *" --devices "*) echo "no cuda device here"; exit 1 ;;
            *" --check "*) echo "check $*"; exit "${FAKE_CHECK_EXIT:-0}" ;;
            *" --probabilities "*) sleep "${FAKE_SLEEP:-0}"; echo "0.1 0.9"; exit 0 ;;
            esac
            while (( $# )); do
                if [[ $1 == --artifacts ]]; then mkdir -p "$2"; head -c $((20 << 20)) /dev/urandom > "$2/BenchmarkRun.log"; fi
                shift
            done
            exit 0

            """.ReplaceLineEndings("\n"));
        return "bash " + path;  // run-gpu.sh splits LENET_BENCH into words
    }

    private Dictionary<string, string> WithStandIn(params (string Name, string Value)[] more)
    {
        var environment = new Dictionary<string, string>
        {
            ["OUT"] = folder.File("out"), ["RESULTS"] = folder.File("work"), ["USE_PACK"] = "1", ["LENET_BENCH"] = StandInBench(),
        };
        foreach (var (name, value) in more) environment[name] = value;
        return environment;
    }

    private string Steps() => File.ReadAllText(Path.Combine(folder.File("work"), "steps.txt"));

    /// <summary>1 is a failed check; a check that was killed or stopped (124, 137: what `timeout` returns) is 3, never
    /// the 124/137 that the run tool reads as its own timeout.</summary>
    [Theory]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData("124", 3)]
    [InlineData("137", 3)]
    public void TheExitStatusTellsAFailedCheckFromOneThatDidNotFinish(string checkExit, int expected)
    {
        var (code, text) = Run(WithStandIn(("FAKE_CHECK_EXIT", checkExit)), "check");
        Assert.True(code == expected, $"exit {code}, expected {expected}\n{text}");
        string steps = Steps();
        Assert.Contains("--tolerance 1e-5", steps);
        Assert.Contains("within 1e-5 of the CPU engine's", steps);
        Assert.Equal(expected == 3, steps.Contains($"=== check: did not finish (exit {checkExit}); run-gpu.sh exits 3"));
    }

    /// <summary>A part's steps share one deadline (twice its estimate plus 30 s): the second step gets what the first left.</summary>
    [Fact]
    public void APartsStepsShareOneDeadline()
    {
        // pytorch-check on the CPU: the bench's probabilities (3 s here), then PyTorch's comparison (`true` here).
        var (code, text) = Run(WithStandIn(("FAKE_SLEEP", "3"), ("PYTHON", "true")), "pytorch-check");
        Assert.True(code == 0, text);
        var limits = System.Text.RegularExpressions.Regex.Matches(Steps(), @"=== pytorch-check-cpu\S*: .* \(limit (\d+) s, the part's\)")
            .Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Equal(2, limits.Count);
        Assert.Equal(2 * 40 + 30, limits[0]);  // the dry run's estimate for pytorch-check is 40 s
        Assert.InRange(limits[1], limits[0] - 10, limits[0] - 3);
    }

    /// <summary>The run tool brings back files of at most 16 MiB: over 15 MiB, BenchmarkDotNet's own logs are left out.</summary>
    [Fact]
    public void AnArchiveOverFifteenMiBLeavesOutBenchmarkDotNetsLogs()
    {
        var (code, text) = Run(WithStandIn(), "ceilings");
        Assert.True(code == 0, text);
        string archive = Assert.Single(Directory.GetFiles(folder.File("out")));
        Assert.InRange(new FileInfo(archive).Length, 1, 15 << 20);
        var names = new List<string>();
        using (var gzip = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress))
        using (var tar = new TarReader(gzip))
            for (var entry = tar.GetNextEntry(); entry is not null; entry = tar.GetNextEntry()) names.Add(entry.Name.TrimStart('.', '/'));
        Assert.Contains("ceilings.log", names);
        Assert.DoesNotContain("bdn-ceilings/BenchmarkRun.log", names);
        Assert.Contains("MiB: packed again without BenchmarkDotNet's 1 own logs", Steps());
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

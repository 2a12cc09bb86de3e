using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LeNet.Gpu.Tests.Support;

/// <summary>What <c>ptxas -v</c> reports for one function.</summary>
public sealed record PtxasFunction(string Name, bool IsEntry, int Registers, int SharedBytes, int StackFrameBytes,
    int SpillStoreBytes, int SpillLoadBytes);

/// <summary>
/// NVIDIA's PTX assembler, run on PTX text without any GPU. Found as <c>$LENET_PTXAS</c>, else where
/// <c>.ci/fetch-ptxas.sh</c> caches it (<c>$LENET_TOOLS</c> or ~/.cache/lenet-tools, then ptxas/bin/ptxas), else
/// <c>ptxas</c> on the PATH. Null when none of them runs.
/// </summary>
public sealed class PtxAssembler
{
    public string Path { get; }
    /// <summary>The last line of <c>ptxas --version</c>'s release line, e.g. "Cuda compilation tools, release 11.8, V11.8.89".</summary>
    public string Version { get; }
    /// <summary>The highest PTX ISA this ptxas accepts (major·10 + minor), from its CUDA release.</summary>
    public int MaxIsa { get; }

    private PtxAssembler(string path, string version, int maxIsa) => (Path, Version, MaxIsa) = (path, version, maxIsa);

    private static readonly Lazy<(PtxAssembler? Assembler, string Why)> found = new(Find);

    public static PtxAssembler? Instance => found.Value.Assembler;

    /// <summary>Why <see cref="Instance"/> is null (where it looked), for a skip message.</summary>
    public static string WhyAbsent => found.Value.Why;

    public static IEnumerable<string> Candidates()
    {
        var explicitPath = Environment.GetEnvironmentVariable("LENET_PTXAS");
        if (!string.IsNullOrWhiteSpace(explicitPath)) { yield return explicitPath; yield break; }
        var tools = Environment.GetEnvironmentVariable("LENET_TOOLS");
        if (string.IsNullOrWhiteSpace(tools))
            tools = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "lenet-tools");
        yield return System.IO.Path.Combine(tools, "ptxas", "bin", "ptxas");
        yield return "ptxas";
    }

    private static (PtxAssembler?, string) Find()
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            var (code, output, error) = Run(candidate, ["--version"], TimeSpan.FromSeconds(30));
            if (code != 0) { tried.Add($"{candidate}: {(error.Length > 0 ? error.Trim() : $"exit {code}")}"); continue; }
            var release = Regex.Match(output, @"release (\d+)\.(\d+)");
            if (!release.Success) { tried.Add($"{candidate}: no release in '{output.Trim()}'"); continue; }
            int cuda = int.Parse(release.Groups[1].Value) * 10 + int.Parse(release.Groups[2].Value);
            var line = output.Split('\n').FirstOrDefault(l => l.Contains("release")) ?? output;
            return (new PtxAssembler(candidate, line.Trim(), MaxIsaOf(cuda)), "");
        }
        return (null, "no ptxas (run `bash .ci/fetch-ptxas.sh`): " + string.Join("; ", tried));
    }

    /// <summary>
    /// PTX ISA per CUDA release (NVIDIA's PTX ISA release notes): 11.x → 7.x, 12.0–12.5 → 8.0–8.5, 12.6 → 8.5,
    /// 12.8 → 8.7, 12.9 → 8.8, 13.0 → 9.0. Releases are major·10 + minor.
    /// </summary>
    public static int MaxIsaOf(int cudaRelease) => cudaRelease switch
    {
        >= 130 => 90,
        129 => 88,
        128 => 87,
        >= 126 => 85,
        >= 120 => 80 + (cudaRelease - 120),
        >= 110 => 70 + (cudaRelease - 110),
        _ => 0,
    };

    /// <summary>
    /// Assembles <paramref name="ptx"/> for <paramref name="architecture"/> (e.g. "sm_90") with <c>-v</c>.
    /// Throws <see cref="InvalidOperationException"/> with ptxas's own message when it fails.
    /// </summary>
    public IReadOnlyList<PtxasFunction> Assemble(string ptx, string architecture, string label)
    {
        string directory = Directory.CreateTempSubdirectory("lenet-ptxas-").FullName;
        try
        {
            string input = System.IO.Path.Combine(directory, "kernel.ptx");
            File.WriteAllText(input, ptx);
            var (code, output, error) = Run(Path,
                ["-arch=" + architecture, "-v", "-o", System.IO.Path.Combine(directory, "kernel.cubin"), input],
                TimeSpan.FromMinutes(2));
            string text = output + error;
            if (code != 0) throw new InvalidOperationException($"ptxas -arch={architecture} failed on {label} (exit {code}): {text.Trim()}");
            return Parse(text);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Reads ptxas -v's "Compiling entry function", "Function properties" and "Used N registers" lines.</summary>
    public static IReadOnlyList<PtxasFunction> Parse(string text)
    {
        var functions = new List<PtxasFunction>();
        string? name = null;
        bool entry = false;
        int stack = 0, spillStores = 0, spillLoads = 0;
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            Match m;
            if ((m = Regex.Match(line, @"Compiling entry function '([^']+)'")).Success) { name = m.Groups[1].Value; entry = true; }
            else if ((m = Regex.Match(line, @"Function properties for (\S+)")).Success)
            {
                if (name != m.Groups[1].Value) { name = m.Groups[1].Value; entry = false; }
            }
            else if ((m = Regex.Match(line, @"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")).Success)
            {
                stack = Int(m, 1); spillStores = Int(m, 2); spillLoads = Int(m, 3);
            }
            else if ((m = Regex.Match(line, @"Used (\d+) registers(?:, (\d+) bytes smem)?")).Success && name is not null)
            {
                functions.Add(new PtxasFunction(name, entry, Int(m, 1), m.Groups[2].Success ? Int(m, 2) : 0, stack, spillStores, spillLoads));
                name = null; entry = false; stack = spillStores = spillLoads = 0;
            }
        }
        return functions;
    }

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static (int Code, string Output, string Error) Run(string file, string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout)) { process.Kill(true); return (-1, "", $"timed out after {timeout.TotalSeconds} s"); }
            return (process.ExitCode, output.Result, error.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", e.Message);
        }
    }
}

using System.Diagnostics;
using LeNet.Gpu.Data;

namespace LeNet.Gpu.Cli;

/// <summary>Runs the package tools that fetch data (apt-get, npm) and reports their outcome in one line. They run
/// here, in the command line, never in the library.</summary>
internal static class PackageTools
{
    public sealed record Result(int ExitCode, string LastLine, string Output);

    public static Result Run(string program, string[] arguments, string? workingDirectory)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start) ?? throw new DataNotFoundException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        // apt's errors ("E: …") and npm's ("npm error …") go to stderr; prefer them for the one-line reason.
        string last = LastLineOf(errors.Result);
        if (last.Length == 0) last = LastLineOf(output.Result);
        return new Result(process.ExitCode, last, output.Result);
    }

    public static string LastLineOf(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.LastOrDefault(l => l.StartsWith("E:", StringComparison.Ordinal))
            ?? lines.FirstOrDefault(l => l.StartsWith("npm error", StringComparison.Ordinal) || l.StartsWith("npm ERR!", StringComparison.Ordinal))
            ?? lines.LastOrDefault()
            ?? "";
    }

    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);
}

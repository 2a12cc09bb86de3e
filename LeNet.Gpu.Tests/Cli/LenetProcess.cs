using System.Diagnostics;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>Runs the built <c>lenet</c> command line as a separate process, as a user would.</summary>
public static class LenetProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>lenet.dll sits beside this test assembly's build output (…/LeNet.Gpu.Cli/bin/&lt;config&gt;/net10.0/).</summary>
    public static string CliPath
    {
        get
        {
            string testBin = AppContext.BaseDirectory; // …/LeNet.Gpu.Tests/bin/Release/net10.0/
            var dir = new DirectoryInfo(testBin);
            string configuration = dir.Parent!.Name, framework = dir.Name;
            string repo = dir.Parent!.Parent!.Parent!.Parent!.FullName;
            string path = Path.Combine(repo, "LeNet.Gpu.Cli", "bin", configuration, framework, "lenet.dll");
            if (!File.Exists(path)) throw new FileNotFoundException($"the lenet CLI is not built at {path}");
            return path;
        }
    }

    public static Result Run(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CliPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("LENET_DEVICE");
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lenet {string.Join(' ', args)} ran over 5 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}

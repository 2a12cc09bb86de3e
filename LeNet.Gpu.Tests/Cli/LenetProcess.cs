using System.Diagnostics;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>Runs the built <c>lenet</c> command line as a separate process, as a user would.</summary>
public static class LenetProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>
    /// LeNet.Gpu.Cli/bin/&lt;configuration&gt;/&lt;framework&gt;/lenet.dll, found from this test assembly's own output folder
    /// (…/LeNet.Gpu.Tests/bin/&lt;configuration&gt;/&lt;framework&gt;/); the test project references the CLI project, so
    /// building the tests builds it.
    /// </summary>
    public static string CliPath
    {
        get
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory);
            string configuration = output.Parent!.Name, framework = output.Name;
            for (var d = output; d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "LeNet.Gpu.sln")))
                {
                    string path = Path.Combine(d.FullName, "LeNet.Gpu.Cli", "bin", configuration, framework, "lenet.dll");
                    return File.Exists(path) ? path : throw new FileNotFoundException($"the lenet CLI is not built at {path}");
                }
            throw new InvalidOperationException($"no LeNet.Gpu.sln above {AppContext.BaseDirectory}");
        }
    }

    public static Result Run(string workingDirectory, params string[] args)
    {
        // The SDK tells test hosts which dotnet runs them; outside `dotnet test`, the one on PATH.
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
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

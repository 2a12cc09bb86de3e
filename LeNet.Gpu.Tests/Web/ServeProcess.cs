using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using LeNet.Gpu.Tests.Cli;

namespace LeNet.Gpu.Tests.Web;

/// <summary>
/// <c>lenet serve</c> running as a separate process on a free loopback port (the server picks it and prints the
/// URL, so parallel test runs never race for a port). Disposing stops it.
/// </summary>
public sealed partial class ServeProcess : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder stderr = new(), stdout = new();

    public Uri BaseAddress { get; }

    /// <summary>What the server wrote on stderr so far, for failure messages.</summary>
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }

    /// <summary>What the server wrote on stdout after its URL line.</summary>
    public string Stdout { get { lock (stdout) return stdout.ToString(); } }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/")]
    private static partial Regex UrlPattern();

    /// <param name="executable">
    /// A <c>lenet</c> to run instead of the built lenet.dll (an installed tool's command); it finds .NET through
    /// <c>DOTNET_ROOT</c>, set to the dotnet running the tests.
    /// </param>
    /// <param name="options">More options for <c>serve</c> (its connection timeouts, say).</param>
    public ServeProcess(string model, string device = "cpu", TimeSpan? startTimeout = null, string? executable = null, string[]? options = null)
    {
        var start = new ProcessStartInfo(executable ?? Support.Dotnet.HostPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (executable is null) start.ArgumentList.Add(LenetProcess.CliPath);
        else if (Support.Dotnet.Root is { } root) start.Environment["DOTNET_ROOT"] = root;
        foreach (var a in new[] { "serve", "--model", model, "--device", device }.Concat(options ?? []))
            start.ArgumentList.Add(a);
        start.Environment.Remove("LENET_DEVICE");
        start.Environment["NO_COLOR"] = "1";
        process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();

        // The first stdout line names the URL; the server is listening once it is printed.
        var firstLine = process.StandardOutput.ReadLineAsync();
        if (!firstLine.Wait(startTimeout ?? TimeSpan.FromMinutes(2)) || firstLine.Result is not { } line || UrlPattern().Match(line) is not { Success: true } url)
        {
            Stop();
            throw new InvalidOperationException($"lenet serve did not print its URL (exit {(process.HasExited ? process.ExitCode : "none")}): {Stderr}");
        }
        BaseAddress = new Uri(url.Value);
        // Keep draining stdout so the server never blocks on a full pipe.
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } more)
                lock (stdout) stdout.AppendLine(more);
        });
    }

    public bool HasExited => process.HasExited;

    /// <summary>The server's process id (to read its memory use from /proc).</summary>
    public int ProcessId => process.Id;

    /// <summary>Sends SIGTERM, as a service manager or Ctrl+C would stop it, and returns the exit code.</summary>
    public int Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        if (!process.WaitForExit(timeout))
        {
            Stop();
            throw new TimeoutException($"lenet serve did not stop within {timeout.TotalSeconds} s of SIGTERM");
        }
        return process.ExitCode;
    }

    private void Stop()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Stop();
        process.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// A <c>lenet</c> command running in its own process, for tests that act while it runs: wait for a line on
/// stderr, send it a signal, wait for its end. Disposing kills it if it still runs.
/// </summary>
public sealed class RunningLenet : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder stderr = new(), stdout = new();
    private readonly List<string> lines = [];
    private readonly Thread[] readers = new Thread[2];

    public RunningLenet(string workingDirectory, params string[] args)
    {
        string dotnet = Support.Dotnet.HostPath;
        // A test run started in the background (`cmd &` in a script: CI) ignores SIGINT, the child inherits that, and
        // .NET then rightly leaves Ctrl+C alone. To send SIGINT as a terminal would, start the child with it restored.
        var start = new ProcessStartInfo(IgnoresSigint ? "python3" : dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (IgnoresSigint)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])");
            start.ArgumentList.Add(dotnet);
        }
        start.ArgumentList.Add(LenetProcess.CliPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in LenetProcess.CliEnvironment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        process = Process.Start(start)!;
        // Dedicated reader threads, not the thread pool's events: under the full suite the pool is starved by blocked
        // tests, and a line seen 30 s late let a run finish epochs before the signal meant for its first one.
        readers[0] = Reader(process.StandardError, line =>
        {
            lock (lines)
            {
                lines.Add(line);
                stderr.AppendLine(line);
                Monitor.PulseAll(lines);
            }
        });
        readers[1] = Reader(process.StandardOutput, line => { lock (stdout) stdout.AppendLine(line); });
    }

    private static Thread Reader(StreamReader source, Action<string> onLine)
    {
        var thread = new Thread(() =>
        {
            while (source.ReadLine() is { } line) onLine(line);
        }) { IsBackground = true, Name = "lenet output reader" };
        thread.Start();
        return thread;
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of SigIgn in /proc/self/status), as a background job does.</summary>
    public static bool IgnoresSigint { get; } =
        File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is { } line
        && (ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << 1)) != 0;

    public int Id => process.Id;

    public string Stderr { get { lock (lines) return stderr.ToString(); } }

    public string Stdout { get { lock (stdout) return stdout.ToString(); } }

    /// <summary>Waits until a stderr line contains <paramref name="text"/>; false if the process ended or time ran out first.</summary>
    public bool WaitForLine(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (lines)
        {
            while (true)
            {
                if (lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
                if (process.HasExited)
                {
                    Monitor.Wait(lines, 300); // the last lines may still be on their way
                    return lines.Any(l => l.Contains(text, StringComparison.Ordinal));
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) return false;
                Monitor.Wait(lines, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>Sends a signal by name (INT, TERM, KILL), as a terminal or a service manager would.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>The exit code; throws <see cref="TimeoutException"/> if it does not end in time.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
            throw new TimeoutException($"lenet did not end within {timeout.TotalSeconds:0} s; stderr so far:\n{Stderr}");
        foreach (var reader in readers) reader.Join(TimeSpan.FromSeconds(10)); // the last lines, up to end of stream
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process.Dispose();
    }
}

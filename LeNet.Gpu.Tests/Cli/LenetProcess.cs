using System.Diagnostics;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>Runs the built <c>lenet</c> command line as a separate process, as a user would.</summary>
public static class LenetProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>The built CLI (the test project references it, so building the tests builds it).</summary>
    public static string CliPath => Support.Repository.BuiltAssembly("LeNet.Gpu.Cli", "lenet.dll");

    /// <summary>The environment every CLI run gets: no device chosen by the caller's LENET_DEVICE, no colours.</summary>
    public static IReadOnlyDictionary<string, string?> CliEnvironment { get; } =
        new Dictionary<string, string?> { ["LENET_DEVICE"] = null, ["NO_COLOR"] = "1" };

    public static Result Run(string workingDirectory, params string[] args) =>
        RunAssembly(CliPath, workingDirectory, CliEnvironment, args);

    /// <summary>As <see cref="Run"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/> (a command that must not wait).</summary>
    public static Result RunWithin(TimeSpan timeout, string workingDirectory, params string[] args) =>
        RunProgram(Support.Dotnet.HostPath, workingDirectory, CliEnvironment, [CliPath, .. args], timeout);

    /// <summary>
    /// Runs a built .NET assembly with <paramref name="args"/>; <paramref name="environment"/> sets variables (null
    /// removes one). Fails with <see cref="TimeoutException"/> after 5 minutes.
    /// </summary>
    public static Result RunAssembly(string assembly, string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunProgram(Support.Dotnet.HostPath, workingDirectory, environment, [assembly, .. args]);

    /// <summary>
    /// Runs <paramref name="program"/> (a path, or a name looked up on PATH) with <paramref name="args"/>;
    /// <paramref name="environment"/> sets variables (null removes one). Fails with <see cref="TimeoutException"/>
    /// after <paramref name="timeout"/> (default 5 minutes).
    /// </summary>
    public static Result RunProgram(string program, string workingDirectory, IReadOnlyDictionary<string, string?> environment,
        IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', start.ArgumentList)} ran over {limit.TotalMinutes:0.#} minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}

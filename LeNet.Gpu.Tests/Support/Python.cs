using System.Diagnostics;

namespace LeNet.Gpu.Tests.Support;

/// <summary>
/// A Python interpreter for the tests that check our files and results against Python tools. The first of
/// <c>$LENET_PYTHON</c>, <c>python3</c> on the PATH and Debian's <c>/usr/bin/python3</c> that imports every module asked
/// for is used: the PATH's python3 may be a separate installation (pyenv, a virtual environment) without the
/// Debian packages (python3-torch, python3-onnx) CI installs.
/// </summary>
public static class Python
{
    private static readonly Dictionary<string, string?> Found = new();

    private static IEnumerable<string> Candidates()
    {
        if (Environment.GetEnvironmentVariable("LENET_PYTHON") is { Length: > 0 } chosen) yield return chosen;
        yield return "python3";
        yield return "/usr/bin/python3";
    }

    /// <summary>The first interpreter that imports all of <paramref name="modules"/>, or null.</summary>
    public static string? With(params string[] modules)
    {
        string key = string.Join(",", modules);
        lock (Found)
        {
            if (Found.TryGetValue(key, out var cached)) return cached;
            string probe = string.Join("\n", modules.Select(m => $"import {m}"));
            string? interpreter = Candidates().FirstOrDefault(c => Run(c, ["-c", probe], TimeSpan.FromMinutes(1)).ExitCode == 0);
            Found[key] = interpreter;
            return interpreter;
        }
    }

    /// <summary>Why a test that needs <paramref name="modules"/> skipped, and (<paramref name="hint"/>) how to get them.</summary>
    public static string Missing(string[] modules, string hint) =>
        $"no Python here imports {string.Join(", ", modules)} (tried $LENET_PYTHON, python3, /usr/bin/python3); {hint}";

    /// <summary>Runs the interpreter; exit code −1 when it cannot be started, −2 when it ran past the timeout (killed).</summary>
    public static (int ExitCode, string Output, string Errors) Run(string interpreter, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(interpreter) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", $"{interpreter}: {e.Message}");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                return (-2, output.Result, errors.Result + $"\n{interpreter}: killed after {timeout}");
            }
            process.WaitForExit();
            return (process.ExitCode, output.Result, errors.Result);
        }
    }
}

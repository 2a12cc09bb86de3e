using System.Diagnostics;
using Xunit;

namespace LeNet.Gpu.Tests.Kernels;

/// <summary>
/// .ci/fetch-ptxas.sh takes the Debian mirror from the machine's apt sources (one-line .list files and deb822
/// .sources files, the stanza of the machine's own suite), and names no archive of its own: when they name none it
/// fails in one line saying so.
/// Checked with `--mirror` on apt folders written here (LENET_APT_ETC), so nothing is fetched.
/// </summary>
public sealed class FetchPtxasScriptTests : IDisposable
{
    private readonly Data.TempDirectory apt = new();

    public void Dispose() => apt.Dispose();

    /// <summary>The suite the script reads from /etc/os-release, as it does.</summary>
    private static string Suite()
    {
        const string key = "VERSION_CODENAME=";
        var line = File.Exists("/etc/os-release") ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith(key)) : null;
        return line is null || line.Length == key.Length ? "bookworm" : line[key.Length..].Trim('"');
    }

    private (int ExitCode, string Output, string Error) RunMirror()
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Support.Repository.Root, ".ci", "fetch-ptxas.sh"));
        start.ArgumentList.Add("--mirror");
        start.Environment["LENET_APT_ETC"] = apt.Path;
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd(), error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Trim(), error.Trim());
    }

    private string Mirror()
    {
        var (exitCode, output, error) = RunMirror();
        Assert.True(exitCode == 0, $"exit {exitCode}: {error}");
        return output;
    }

    private void Write(string name, string text)
    {
        string path = Path.Combine(apt.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.Replace("SUITE", Suite()));
    }

    [Fact]
    public void Deb822SourcesGiveTheMirrorOfTheMachinesOwnSuite()
    {
        Write("sources.list.d/debian.sources", """
            Types: deb
            URIs: http://security.mirror.test/debian-security
            Suites: SUITE-security
            Components: main

            Types: deb-src deb
            # a comment between fields
            URIs: http://mirror.test/debian/ http://second.mirror.test/debian
            Suites: SUITE SUITE-updates
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

            """);
        Assert.Equal("http://mirror.test/debian", Mirror());
    }

    [Fact]
    public void OneLineSourcesWithOptionsGiveTheirMirror()
    {
        Write("sources.list", """
            # deb http://commented.out/debian SUITE main
            deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.mirror.test/debian SUITE main
            deb http://later.mirror.test/debian SUITE main

            """);
        Assert.Equal("http://one.mirror.test/debian", Mirror());
    }

    [Fact]
    public void WithoutSourcesForTheSuiteItFailsInOneLineNamingNoArchiveOfItsOwn()
    {
        Write("sources.list.d/other.sources", """
            Types: deb
            URIs: https://deb.nodesource.test/node_20.x
            Suites: nodistro
            Components: main

            """);
        Write("sources.list.d/disabled.sources", """
            Enabled: no
            Types: deb
            URIs: http://disabled.mirror.test/debian
            Suites: SUITE

            """);
        var (exitCode, output, error) = RunMirror();
        Assert.Equal(1, exitCode);
        Assert.Equal("", output);
        Assert.Single(error.Split('\n'));
        Assert.Contains("name no Debian archive", error);
        Assert.DoesNotContain("debian.org", error);
    }
}

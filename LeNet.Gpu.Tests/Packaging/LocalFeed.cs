using System.Xml.Linq;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;

namespace LeNet.Gpu.Tests.Packaging;

/// <summary>
/// The solution packed, as <c>dotnet pack</c> makes its packages, into a folder feed in a temporary directory, with
/// a NuGet setup that installs and restores from it in isolation: a fresh packages folder, so a package of the same
/// version cached by an earlier run or install is never used; this repository's packages from the feed only; every
/// other package from this machine's NuGet cache (no network), seen through a folder of links that leaves out
/// LeNet.Gpu's own ids.
/// </summary>
public sealed class LocalFeed : IDisposable
{
    private readonly TempDirectory temp = new();

    /// <summary>The ids <c>dotnet pack LeNet.Gpu.sln</c> makes, and only those.</summary>
    public static readonly string[] PackageIds = ["LeNet.Gpu", "LeNet.Gpu.Cli"];

    /// <summary>The folder feed holding the packed .nupkg and .snupkg files.</summary>
    public string Feed { get; }

    /// <summary>The one version of both packages, from Directory.Build.props.</summary>
    public string Version { get; } = RepositoryVersion();

    /// <summary>A NuGet.Config naming no source (commands add the feed), the fresh packages folder and the cache view.</summary>
    public string NuGetConfig { get; }

    /// <summary>The packages folder restores and installs extract into (NUGET_PACKAGES for the commands).</summary>
    public string PackagesFolder { get; }

    public string Directory => temp.Path;

    public LocalFeed()
    {
        Feed = temp.File("feed");
        PackagesFolder = temp.File("packages");
        System.IO.Directory.CreateDirectory(PackagesFolder);

        // The test assembly's configuration, whose build (done before the tests run) is what is packed.
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        // Packing reads the solution's own restore (the machine's packages folder), so it runs outside the isolation.
        // ContinuousIntegrationBuild as the README's pack command sets it; the assemblies packed are deterministic
        // when their build had it too (.ci/run's, which sets CI=true).
        RunSdk(Repository.Root, isolated: false, ["pack", Path.Combine(Repository.Root, "LeNet.Gpu.sln"), "-c", configuration,
            "--no-build", "--no-restore", "-p:ContinuousIntegrationBuild=true", $"-p:PackageOutputPath={Feed}"]);

        string cacheView = LinkCacheWithout(GlobalPackagesFolder(), temp.File("cache-view"));
        NuGetConfig = temp.File("NuGet.Config");
        new XDocument(new XElement("configuration",
            new XElement("packageSources", new XElement("clear")),
            new XElement("fallbackPackageFolders", new XElement("clear"),
                new XElement("add", new XAttribute("key", "machine-cache"), new XAttribute("value", cacheView))),
            new XElement("config",
                new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", PackagesFolder)))))
            .Save(NuGetConfig);
    }

    /// <summary>
    /// Runs a dotnet SDK command (pack, restore, build, tool install) in <paramref name="workingDirectory"/> and
    /// fails with its output unless it exits 0. Build servers and MSBuild nodes are not left running, and the
    /// MSBuild locations <c>dotnet test</c> passes to its test host are removed so the command finds its own SDK.
    /// </summary>
    public LenetProcess.Result Sdk(string workingDirectory, params string[] args) => RunSdk(workingDirectory, isolated: true, args);

    private LenetProcess.Result RunSdk(string workingDirectory, bool isolated, string[] args)
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["MSBuildExtensionsPath"] = null,
            ["MSBuildSDKsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
            ["MSBuildLoadMicrosoftTargetsReadOnly"] = null,
        };
        if (isolated) environment["NUGET_PACKAGES"] = PackagesFolder;
        var r = LenetProcess.RunProgram(Dotnet.HostPath, workingDirectory, environment, args, TimeSpan.FromMinutes(4));
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"dotnet {string.Join(' ', args)} exited {r.ExitCode}:\n{r.Stdout}\n{r.Stderr}");
        return r;
    }

    /// <summary>The path of a packed file in the feed, which must exist.</summary>
    public string Package(string id, string extension = "nupkg")
    {
        string path = Path.Combine(Feed, $"{id}.{Version}.{extension}");
        return File.Exists(path) ? path
            : throw new FileNotFoundException($"dotnet pack made no {Path.GetFileName(path)}; the feed holds: " +
                string.Join(", ", System.IO.Directory.EnumerateFiles(Feed).Select(Path.GetFileName)));
    }

    /// <summary>&lt;Version&gt; in the repository's Directory.Build.props, the one place it is set.</summary>
    public static string RepositoryVersion()
    {
        var props = XDocument.Load(Path.Combine(Repository.Root, "Directory.Build.props"));
        var versions = props.Descendants("Version").Select(v => v.Value.Trim()).ToList();
        return versions.Count == 1 ? versions[0]
            : throw new InvalidOperationException($"Directory.Build.props sets <Version> {versions.Count} times, expected once");
    }

    private string GlobalPackagesFolder()
    {
        // "global-packages: /root/.nuget/packages/", wherever NuGet's settings put it; our NUGET_PACKAGES is not
        // applied here, so the machine's own folder is reported.
        var start = new Dictionary<string, string?> { ["DOTNET_NOLOGO"] = "1", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        var r = LenetProcess.RunProgram(Dotnet.HostPath, Repository.Root, start, ["nuget", "locals", "global-packages", "--list"]);
        const string prefix = "global-packages: ";
        var line = r.Stdout.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        if (r.ExitCode != 0 || line is null)
            throw new InvalidOperationException($"dotnet nuget locals global-packages --list exited {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return line[prefix.Length..];
    }

    /// <summary>A folder of links to every package id in <paramref name="cache"/> except this repository's.</summary>
    private static string LinkCacheWithout(string cache, string view)
    {
        System.IO.Directory.CreateDirectory(view);
        var ours = PackageIds.Select(id => id.ToLowerInvariant()).ToHashSet();
        foreach (var id in System.IO.Directory.EnumerateDirectories(cache))
        {
            string name = Path.GetFileName(id);
            if (!ours.Contains(name.ToLowerInvariant()))
                System.IO.Directory.CreateSymbolicLink(Path.Combine(view, name), id);
        }
        return view;
    }

    public void Dispose()
    {
        // Unlink the cache view first, one link at a time, so nothing can ever reach through to the real cache.
        string view = temp.File("cache-view");
        if (System.IO.Directory.Exists(view))
            foreach (var link in System.IO.Directory.EnumerateFileSystemEntries(view))
                if (new DirectoryInfo(link).LinkTarget is not null) System.IO.Directory.Delete(link);
        temp.Dispose();
    }
}

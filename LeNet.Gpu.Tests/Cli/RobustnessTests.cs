using System.IO.Compression;
using System.Text;
using System.Text.Json;
using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using LeNet.Gpu.Tests.Robustness;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>
/// The command line under hostile use (issue 15): odd output paths, names at the file system's limit, unreadable
/// images among good ones, damaged checkpoints, inputs that are not files, a run that diverges without overflowing.
/// </summary>
public sealed class RobustnessTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    private static void AssertOneLineError(LenetProcess.Result r, int exitCode, params string[] contains)
    {
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}, expected {exitCode}; stderr:\n{r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected a one-line error, got:\n{r.Stderr}");
        Assert.StartsWith("lenet: ", lines[0]);
        foreach (var text in contains) Assert.Contains(text, lines[0]);
    }

    private string[] Train(string data, params string[] more) =>
        ["train", "--data", data, "--epochs", "1", "--batch-size", "5", "--no-progress", "--device", "cpu", .. more];

    [Fact]
    public void Outputs_through_symbolic_links_replace_the_target_and_keep_the_link()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        Directory.CreateDirectory(temp.File("models"));
        ModelFile.Save(LeNetModel.CreateRandom(1), temp.File("m.safetensors"));
        File.WriteAllText(temp.File("models/trained.safetensors"), "old");
        File.CreateSymbolicLink(temp.File("current.safetensors"), Path.Combine("models", "trained.safetensors"));
        File.CreateSymbolicLink(temp.File("exported.onnx"), temp.File("models/new.onnx")); // dangling: the target is made

        var r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "current.safetensors", "--checkpoint", temp.File("run.ckpt")));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("symbolic link", FileSystem.KindOf(temp.File("current.safetensors")));
        Assert.Equal("1", ModelFile.Load(temp.File("models/trained.safetensors")).Metadata["epochs"]);

        r = LenetProcess.RunWithin(Quick, temp.Path, "export", "--model", "m.safetensors", "--onnx", "exported.onnx");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("symbolic link", FileSystem.KindOf(temp.File("exported.onnx")));
        Assert.True(new FileInfo(temp.File("models/new.onnx")).Length > 1000);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp-*", SearchOption.AllDirectories));
    }

    [Fact]
    public void Outputs_that_are_devices_fifos_or_sockets_are_refused_before_any_work()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        ModelFile.Save(LeNetModel.CreateRandom(1), temp.File("m.safetensors"));
        FileSystem.MakeFifo(temp.File("pipe"));
        using var socket = FileSystem.MakeSocket(temp.File("socket"));
        File.CreateSymbolicLink(temp.File("link-to-pipe"), temp.File("pipe"));
        bool device = FileSystem.TryMakeNullDevice(temp.File("mynull"));

        var special = new List<(string Name, string Kind, string Words)> { ("pipe", "fifo", "FIFO"), ("socket", "socket", "socket"), ("link-to-pipe", "symbolic link", "FIFO") };
        if (device) special.Add(("mynull", "character special file", "character device"));
        // Every kind as train's model; then one kind as each other file the commands write (one check serves all).
        foreach (var (name, kind, words) in special)
        {
            AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", name)), 2, "--output", name, words);
            Assert.Equal(kind, FileSystem.KindOf(temp.File(name)));
        }
        var (other, otherKind, otherWords) = special[^1];
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "fine.safetensors", "--checkpoint", other)), 2, "--checkpoint", other, otherWords);
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "fine.safetensors", "--plot", other)), 2, "--plot", other, otherWords);
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "export", "--model", "m.safetensors", "--onnx", other), 2, "--onnx", other, otherWords);
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "export", "--model", "m.safetensors", "--safetensors", other), 2, "--safetensors", other, otherWords);
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "eval", "--model", "m.safetensors", "--data", data, "--device", "cpu", "--confusion-png", other),
            2, "--confusion-png", other, otherWords);
        Assert.Equal(otherKind, FileSystem.KindOf(temp.File(other)));
        // The lock file train makes beside its model is no exception.
        FileSystem.MakeFifo(temp.File("fine.safetensors.lock"));
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "fine.safetensors")), 1, "fine.safetensors.lock", "FIFO");
        Assert.False(File.Exists(temp.File("fine.safetensors")));
    }

    [Fact]
    public void A_name_at_the_limit_works_and_one_past_it_is_refused_before_training()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        string longest = new string('m', 255 - ".safetensors".Length) + ".safetensors";
        Assert.Equal(255, Encoding.UTF8.GetByteCount(longest));
        var r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", longest));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("1", ModelFile.Load(temp.File(longest)).Metadata["epochs"]);
        // Its checkpoint has a name of its own that fits, and resumes.
        string checkpoint = Assert.Single(Directory.GetFiles(temp.Path, "*.ckpt"));
        Assert.True(Encoding.UTF8.GetByteCount(Path.GetFileName(checkpoint)) <= 255);
        r = LenetProcess.RunWithin(Quick, temp.Path, ["train", "--data", data, "--epochs", "2", "--batch-size", "5", "--no-progress", "--device", "cpu",
            "-o", longest, "--resume", checkpoint]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp-*"));

        string tooLong = "m" + longest;
        r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", tooLong));
        AssertOneLineError(r, 1, "--output", "256 bytes");
        Assert.DoesNotContain("training on", r.Stderr);
        r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "ok.safetensors", "--checkpoint", tooLong));
        AssertOneLineError(r, 1, "--checkpoint", "256 bytes");
        r = LenetProcess.RunWithin(Quick, temp.Path, "export", "--model", "lenet5-digits", "--onnx", tooLong);
        AssertOneLineError(r, 1, "--onnx", "256 bytes");
    }

    [Fact]
    public void Predict_reports_each_unreadable_file_and_predicts_the_others()
    {
        string images = temp.File("images");
        Directory.CreateDirectory(images);
        foreach (var name in new[] { "a.png", "c.png", "e.png" }) File.WriteAllBytes(Path.Combine(images, name), Web.TestImages.Zero());
        File.WriteAllText(Path.Combine(images, "b.png"), "not a picture");
        File.WriteAllBytes(Path.Combine(images, "d.png"), []);
        FileSystem.MakeFifo(Path.Combine(images, "f.png"));

        var r = LenetProcess.RunWithin(Quick, temp.Path, "predict", images, "missing.png", "--json", "--device", "cpu");
        Assert.Equal(1, r.ExitCode);
        var errors = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, errors.Length);
        Assert.All(errors, line => Assert.StartsWith("lenet: ", line));
        foreach (var bad in new[] { "b.png", "d.png", "f.png", "missing.png" })
            Assert.Single(errors, line => line.Contains(bad));
        using (var json = JsonDocument.Parse(r.Stdout))
        {
            var rows = json.RootElement.EnumerateArray().ToDictionary(row => Path.GetFileName(row.GetProperty("file").GetString()!), row => row.Clone());
            Assert.Equal(["a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "missing.png"], rows.Keys.Order());
            foreach (var good in new[] { "a.png", "c.png", "e.png" })
            {
                Assert.Equal(0, rows[good].GetProperty("class").GetInt32());
                Assert.False(rows[good].TryGetProperty("error", out _));
            }
            foreach (var bad in new[] { "b.png", "d.png", "f.png", "missing.png" })
            {
                Assert.Contains(bad, rows[bad].GetProperty("error").GetString());
                Assert.False(rows[bad].TryGetProperty("class", out _));
            }
        }

        r = LenetProcess.RunWithin(Quick, temp.Path, "predict", images, "--device", "cpu");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("a.png", r.Stdout);
        Assert.Contains("e.png", r.Stdout);
        Assert.Equal(3, r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        r = LenetProcess.RunWithin(Quick, temp.Path, "predict", Path.Combine(images, "a.png"), Path.Combine(images, "c.png"), "--json", "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void Damaged_checkpoints_are_refused_in_one_line_and_a_checkpoint_is_no_model()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        var r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "a.safetensors", "--optimizer", "adam"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        string[] resume = ["train", "--data", data, "--epochs", "2", "--batch-size", "5", "--no-progress", "--device", "cpu", "--optimizer", "adam", "-o", "b.safetensors"];

        var bytes = File.ReadAllBytes(temp.File("a.safetensors.ckpt"));
        bytes[^5] ^= 0x01; // one bit of Adam's second moment
        File.WriteAllBytes(temp.File("flipped.ckpt"), bytes);
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, [.. resume, "--resume", "flipped.ckpt"]), 1, "flipped.ckpt", "checksum");

        var content = SafeTensors.Read(temp.File("a.safetensors.ckpt"));
        File.WriteAllBytes(temp.File("partial.ckpt"), SafeTensors.ToBytes(content.Tensors.Where(t => t.Name != "optimizer.first_moment").ToList(), content.Metadata));
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, [.. resume, "--resume", "partial.ckpt"]), 1, "partial.ckpt");

        var steps = content.Metadata.ToDictionary();
        steps["checkpoint.steps"] = "3";
        File.WriteAllBytes(temp.File("steps.ckpt"), SafeTensors.ToBytes(content.Tensors, steps));
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, [.. resume, "--resume", "steps.ckpt"]), 1, "steps.ckpt");
        Assert.False(File.Exists(temp.File("b.safetensors")));

        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "eval", "--model", "a.safetensors.ckpt", "--data", data, "--device", "cpu"),
            1, "a.safetensors.ckpt", "training checkpoint", "--resume");
    }

    [Fact]
    public void Inputs_that_are_not_regular_files_are_refused_without_waiting()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        string labels = Path.Combine(data, "train-labels-idx1-ubyte");
        File.Delete(labels);
        FileSystem.MakeFifo(labels); // nobody will ever write to it: opening it would wait for ever
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "x.safetensors")), 1, labels, "FIFO");
        FileSystem.MakeFifo(temp.File("model-pipe"));
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "eval", "--model", "model-pipe", "--data", data, "--device", "cpu"), 1, "model-pipe", "FIFO");
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(TinyIdxFolder.Write(temp.Path, "ok"), "-o", "y.safetensors", "--resume", "model-pipe")),
            1, "model-pipe", "FIFO");
    }

    [Fact]
    public void Corrupt_gzip_data_is_named_as_such()
    {
        string data = TinyIdxFolder.Write(temp.Path, "gz", train: 200, test: 10);
        string images = Path.Combine(data, "train-images-idx3-ubyte");
        byte[] raw = File.ReadAllBytes(images);
        File.Delete(images);
        byte[] gzip;
        using (var buffer = new MemoryStream())
        {
            using (var compressor = new GZipStream(buffer, CompressionLevel.Optimal)) compressor.Write(raw);
            gzip = buffer.ToArray();
        }
        var damages = new Dictionary<string, byte[]>
        {
            ["middle"] = Damage(gzip, g => { for (int i = 0; i < 8; i++) g[g.Length / 2 + i] ^= 0x5A; }),
            ["method"] = Damage(gzip, g => g[2] = 7), // the compression-method byte
            ["crc"] = Damage(gzip, g => g[^6] ^= 0xFF),
            ["truncated"] = gzip[..(gzip.Length * 2 / 3)],
        };
        foreach (var (what, bytes) in damages)
        {
            File.WriteAllBytes(images + ".gz", bytes);
            var r = LenetProcess.RunWithin(Quick, temp.Path, Train(data, "-o", "x.safetensors"));
            AssertOneLineError(r, 1, $"corrupt gzip data in {images}.gz");
            Assert.True(!r.Stderr.Contains("dimensions"), $"{what}: {r.Stderr}");
        }
    }

    private static byte[] Damage(byte[] bytes, Action<byte[]> damage)
    {
        var copy = (byte[])bytes.Clone();
        damage(copy);
        return copy;
    }

    [Fact]
    public void Data_that_is_empty_or_a_file_is_refused_in_one_line()
    {
        string data = TinyIdxFolder.Write(temp.Path, "tiny");
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train("", "-o", "x.safetensors")), 2, "--data", "empty");
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, "eval", "--data", "", "--device", "cpu"), 2, "--data", "empty");
        string file = Path.Combine(data, "train-images-idx3-ubyte");
        AssertOneLineError(LenetProcess.RunWithin(Quick, temp.Path, Train(file, "-o", "x.safetensors")), 1, file, "is a file", "folder");
    }

    [Fact]
    public void A_run_whose_weights_explode_without_overflowing_stops_with_one_line()
    {
        string data = TinyIdxFolder.WriteLearnable(temp.Path, "bars", train: 100, test: 20);
        var r = LenetProcess.RunWithin(Quick, temp.Path, ["train", "--data", data, "--epochs", "3", "--batch-size", "10", "--no-progress", "--device", "cpu",
            "--lr", "1e10", "-o", "x.safetensors"]);
        Assert.Equal(1, r.ExitCode);
        var last = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.StartsWith("lenet: training diverged in epoch 1", last);
        Assert.Contains("weights", last);
        Assert.False(File.Exists(temp.File("x.safetensors")));

        // The same data at the default rate trains normally.
        r = LenetProcess.RunWithin(Quick, temp.Path, ["train", "--data", data, "--epochs", "3", "--batch-size", "10", "--no-progress", "--device", "cpu", "-o", "x.safetensors"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    public void Dispose() => temp.Dispose();
}

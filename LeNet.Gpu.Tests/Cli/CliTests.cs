using System.Text.Json;
using LeNet.Gpu.Data;
using LeNet.Gpu.Serialization;
using LeNet.Gpu.Tests.Data;
using SkiaSharp;
using Xunit;

namespace LeNet.Gpu.Tests.Cli;

/// <summary>The <c>lenet</c> command line end to end, in a temporary directory, as separate processes.</summary>
public sealed class CliTests : IDisposable
{
    private readonly TempDirectory temp = new();

    private static void AssertOneLineError(LenetProcess.Result r, int exitCode, string contains)
    {
        Assert.Equal(exitCode, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length is >= 1 and <= 2, $"expected a one-line error, got:\n{r.Stderr}");
        Assert.StartsWith("lenet: ", lines[0]);
        Assert.Contains(contains, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    [Fact]
    public void Summary_json_holds_the_papers_counts()
    {
        var r = LenetProcess.Run(temp.Path, "summary", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(60850, json.RootElement.GetProperty("total_parameters").GetInt64());
        var layers = json.RootElement.GetProperty("layers").EnumerateArray().ToDictionary(
            l => l.GetProperty("name").GetString()!, l => (l.GetProperty("parameters").GetInt64(), l.GetProperty("connections").GetInt64()));
        Assert.Equal((1516L, 151600L), layers["C3"]);
        Assert.Equal((156L, 122304L), layers["C1"]);
        Assert.Equal((850L, 850L), layers["OUTPUT"]);
    }

    [Fact]
    public void Data_lists_mnist_first_and_fetch_refuses_an_unknown_name()
    {
        var r = LenetProcess.Run(temp.Path, "data");
        Assert.Equal(0, r.ExitCode);
        var rows = r.Stdout.Split('\n').Where(l => l.StartsWith("│ ")).Select(l => l.Split('│')[1].Trim()).Where(n => n.Length > 0).ToList();
        Assert.Equal(new[] { "Name", "mnist", "digits", "fashion" }, rows);
        AssertOneLineError(LenetProcess.Run(temp.Path, "data", "fetch", "cifar"), 2, "known: mnist, digits, fashion");
    }

    /// <summary>The README's first command: eval with no option is the shipped MNIST model on MNIST's test set.</summary>
    [SkippableFact]
    public void Eval_with_no_option_evaluates_lenet5_mnist_on_the_mnist_test_set()
    {
        Skip.If(RealData.MnistDirectory is null, RealData.MnistMissing);
        var r = LenetProcess.Run(temp.Path, "eval", "--json", "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal("lenet5-mnist", json.RootElement.GetProperty("model").GetString());
        Assert.Equal("mnist", json.RootElement.GetProperty("dataset").GetString());
        Assert.Equal(10_000, json.RootElement.GetProperty("total").GetInt32());
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() >= 0.994);
    }

    [Fact]
    public void Devices_lists_the_cpu_and_what_auto_picks()
    {
        var r = LenetProcess.Run(temp.Path, "devices", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Stdout);
        var kinds = json.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("kind").GetString()).ToList();
        Assert.Contains("cpu", kinds);
        Assert.Contains(json.RootElement.GetProperty("auto").GetString(), kinds);
    }

    /// <summary>
    /// Each absent GPU kind's driver reason (as --json gives it) is one whole line of the piped table output, however
    /// long: a log holds it unwrapped.
    /// </summary>
    [Fact]
    public void Devices_prints_each_driver_reason_on_one_line_when_piped()
    {
        var json = LenetProcess.Run(temp.Path, "devices", "--json");
        Assert.Equal(0, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        var reasons = document.RootElement.GetProperty("unavailable").EnumerateArray()
            .Select(u => $"no {u.GetProperty("kind").GetString()} device: {u.GetProperty("reason").GetString()}").ToList();
        var text = LenetProcess.Run(temp.Path, "devices");
        Assert.Equal(0, text.ExitCode);
        var lines = text.Stdout.ReplaceLineEndings("\n").Split('\n');
        // Here (no CUDA, no OpenCL) both reasons run past 80 columns, where Spectre would wrap them.
        Assert.All(reasons, reason => Assert.Contains(reason, lines));
    }

    [Fact]
    public void Bad_usage_exits_2_and_failures_exit_1_with_one_line()
    {
        AssertOneLineError(LenetProcess.Run(temp.Path, "train", "--epochs", "0"), 2, "epochs must be at least 1");
        AssertOneLineError(LenetProcess.Run(temp.Path, "frobnicate"), 2, "frobnicate");
        AssertOneLineError(LenetProcess.Run(temp.Path, "train", "--optimizer", "rmsprop"), 2, "unknown optimizer 'rmsprop'");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--device", "tpu"), 2, "unknown device 'tpu'");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--model", "missing.safetensors"), 1, "missing.safetensors");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--device", "cuda", "--model", "missing.safetensors"), 1, "missing.safetensors");
        File.WriteAllText(temp.File("broken.safetensors"), "not a model");
        AssertOneLineError(LenetProcess.Run(temp.Path, "predict", "--model", "broken.safetensors", "x.png"), 1, "x.png");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--model", "broken.safetensors", "--data", temp.Path), 1, "broken.safetensors");
    }

    /// <summary>
    /// Outputs are checked before any work: never an input file, never another output, never a directory, and in a
    /// directory that exists. Each refusal is one line, and every file is left as it was.
    /// </summary>
    [Fact]
    public void Outputs_that_would_overwrite_inputs_or_each_other_are_refused_before_any_work()
    {
        string data = TinyIdx("tiny");
        string trainImages = Path.Combine(data, "train-images-idx3-ubyte");
        var dataBefore = File.ReadAllBytes(trainImages);
        ModelFile.Save(Gpu.Model.LeNetModel.CreateRandom(1), temp.File("m.safetensors"));
        var modelBefore = File.ReadAllBytes(temp.File("m.safetensors"));
        File.WriteAllBytes(temp.File("digit.png"), Web.TestImages.Zero());
        Directory.CreateDirectory(temp.File("folder"));

        string[] train = ["train", "--data", data, "--epochs", "1", "--no-progress", "--device", "cpu"];
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", trainImages]), 2, "would overwrite an input (--data)");
        // Through a symbolic link to a folder above the data, too.
        Directory.CreateSymbolicLink(temp.File("link"), temp.Path);
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", Path.Combine("link", "tiny", "train-images-idx3-ubyte")]), 2, "would overwrite an input (--data)");
        File.Delete(temp.File("link"));
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", "out.safetensors", "--plot", "out.safetensors"]), 2, "--plot out.safetensors is also the --output file");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", "out.safetensors", "--checkpoint", Path.Combine(data, "t10k-labels-idx1-ubyte")]), 2, "--checkpoint");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", "m.safetensors", "--resume", "m.safetensors"]), 2, "would overwrite an input (--resume)");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", "folder"]), 1, "folder: it is a directory");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "-o", ""]), 2, "--output: the path is empty");
        var late = LenetProcess.Run(temp.Path, [.. train, "-o", "missing/out.safetensors"]);
        AssertOneLineError(late, 1, "directory");
        Assert.DoesNotContain("training on", late.Stderr); // refused before training, not after
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--momentum", "NaN"]), 2, "momentum");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--distort", "2,5,0.15,0.2"]), 2, "distortion strengths");
        // A run whose loss becomes NaN writes neither a model nor a checkpoint (the file listing below checks).
        var diverged = LenetProcess.Run(temp.Path, [.. train, "-o", "out.safetensors", "--weight-decay", "1e30", "--batch-size", "4"]);
        Assert.Equal(1, diverged.ExitCode);
        Assert.Contains("lenet: training diverged in epoch 1", diverged.Stderr);

        AssertOneLineError(LenetProcess.Run(temp.Path, "export", "--model", "m.safetensors", "--onnx", "m.safetensors"), 2, "would overwrite an input (--model)");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--model", "m.safetensors", "--data", data, "--device", "cpu", "--confusion-png", "m.safetensors"), 2, "--confusion-png");
        AssertOneLineError(LenetProcess.Run(temp.Path, "eval", "--model", "m.safetensors", "--data", data, "--device", "cpu",
            "--confusion-png", "c.png", "--errors-png", "c.png"), 2, "--errors-png c.png is also the --confusion-png file");
        AssertOneLineError(LenetProcess.Run(temp.Path, "visualize", "digit.png", "--out", "digit.png", "--device", "cpu"), 2, "would overwrite an input (IMAGE)");

        Assert.Equal(dataBefore, File.ReadAllBytes(trainImages));
        Assert.Equal(modelBefore, File.ReadAllBytes(temp.File("m.safetensors")));

        // Only the IDX files are the data: a model kept beside them can be written again and again.
        for (int run = 0; run < 2; run++)
        {
            var again = LenetProcess.Run(temp.Path, [.. train, "-o", Path.Combine(data, "model.safetensors")]);
            Assert.True(again.ExitCode == 0, again.Stderr);
        }
        foreach (var file in Directory.GetFiles(data, "model.safetensors*")) File.Delete(file);
        Assert.Equal(["digit.png", "m.safetensors"], Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order());
    }

    /// <summary>eval needs only the test split: a folder without training files, or with a broken one, is fine.</summary>
    [Fact]
    public void Eval_reads_only_the_test_split()
    {
        string data = TinyIdx("test-only");
        File.Delete(Path.Combine(data, "train-labels-idx1-ubyte"));
        File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), [1, 2, 3]); // truncated: never read
        var r = LenetProcess.Run(temp.Path, "eval", "--data", data, "--device", "cpu", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        Assert.Equal(10, json.RootElement.GetProperty("total").GetInt32());
    }

    /// <summary>
    /// --recipe paper sets the paper's choices (an option given explicitly still wins: --epochs here), records them in
    /// the model, measures the test error every pass and plots it; summary shows the RBF layer of the model.
    /// </summary>
    [Fact]
    public void Recipe_paper_trains_an_rbf_model_by_sdlm_per_pattern_and_records_it()
    {
        string data = TinyIdx("tiny");
        var run = LenetProcess.Run(temp.Path, ["train", "--recipe", "paper", "--epochs", "2", "--data", data, "--no-progress",
            "--device", "cpu", "-o", "paper.safetensors", "--plot", "paper.png"]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("sdlm lr 0.0005 (paper), batch 1", run.Stderr);
        Assert.Contains("epoch 2: test error", run.Stderr);
        var model = ModelFile.Load(temp.File("paper.safetensors"));
        Assert.Equal(LeNet.Gpu.Model.OutputLayer.Rbf, model.Output);
        Assert.Equal(LeNet.Gpu.Model.ConvolutionSquashing.Squashed, model.Convolutions);
        foreach (var (key, value) in new[] { ("recipe", "paper"), ("optimizer", "sdlm"), ("batch_size", "1"), ("schedule", "paper"),
            ("output_layer", "rbf"), ("epochs", "2"), ("distortion", "none"), ("map_j", "10"), ("sdlm_hessian_samples", "500"),
            ("sdlm_mu", "0.2"), ("sdlm_mu_follows_rate", "true"), ("initialization", "paper") })
            Assert.Equal(value, model.Metadata[key]);
        Assert.Equal(2, model.Metadata["test_error_per_pass"].Split(',').Length);
        Assert.True(IsPng(temp.File("paper.png")));

        var summary = LenetProcess.Run(temp.Path, ["summary", "--model", "paper.safetensors"]);
        Assert.Contains("output: rbf, C1 and C3: squashed", summary.Stdout);
        Assert.Contains("340,908", summary.Stdout);
        AssertOneLineError(LenetProcess.Run(temp.Path, ["summary", "--convolutions", "tanh"]), 2,
            "unknown convolution squashing 'tanh' (expected linear or squashed)");
        AssertOneLineError(LenetProcess.Run(temp.Path, ["train", "--recipe", "lecun", "--data", data]), 2, "unknown recipe 'lecun'");
    }

    /// <summary>A resume must use the settings the checkpoint was written with (only the epochs may grow).</summary>
    [Fact]
    public void Resume_refuses_a_checkpoint_written_with_other_settings()
    {
        string data = TinyIdx("tiny");
        string[] train = ["train", "--data", data, "--no-progress", "--device", "cpu", "--batch-size", "5"];
        var first = LenetProcess.Run(temp.Path, [.. train, "--epochs", "1", "-o", "a.safetensors"]);
        Assert.True(first.ExitCode == 0, first.Stderr);

        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors", "--lr", "0.01"]),
            2, "was written with learning rate 0.02; this run has 0.01");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors", "--squashing", "sigmoid"]),
            2, "was written with scaled-tanh squashing; this run has sigmoid");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors", "--seed", "2"]),
            2, "was written with seed 1; this run has 2");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors", "--output-layer", "rbf"]),
            2, "was written with a softmax output layer; this run has rbf");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors", "--init", "paper"]),
            2, "was written with initialization input-scaled; this run has paper");
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "-o", "b.safetensors", "--init", "lecun"]),
            2, "unknown initialisation 'lecun' (expected input-scaled, unit-variance or paper)");
        // Other data in a folder of the same name, with as many images: refused by content.
        string other = Path.Combine(temp.Path, "elsewhere", "tiny");
        Directory.CreateDirectory(other);
        foreach (var file in Directory.GetFiles(data)) File.Copy(file, Path.Combine(other, Path.GetFileName(file)));
        File.WriteAllBytes(Path.Combine(other, "train-labels-idx1-ubyte"), Idx.Labels(Enumerable.Range(0, 20).Select(i => (byte)((i + 1) % 10)).ToArray()));
        AssertOneLineError(LenetProcess.Run(temp.Path, ["train", "--data", other, "--no-progress", "--device", "cpu", "--batch-size", "5",
            "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "b.safetensors"]), 2, "was written with data 20 training images, SHA-256");
        Assert.False(File.Exists(temp.File("b.safetensors")));

        // The same settings and data (found through a link: data is compared by content), more epochs, and the
        // checkpoint written back over the one resumed from.
        Directory.CreateSymbolicLink(temp.File("same-data"), data);
        string[] linked = ["train", "--data", temp.File("same-data"), "--no-progress", "--device", "cpu", "--batch-size", "5"];
        var resumed = LenetProcess.Run(temp.Path, [.. linked, "--epochs", "2", "--resume", "a.safetensors.ckpt", "-o", "a.safetensors"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("epoch 2:", resumed.Stderr);
        Assert.Equal("2", ModelFile.Load(temp.File("a.safetensors")).Metadata["epochs"]);
    }

    /// <summary>
    /// A checkpoint written under an earlier default (unit variance; SDLM with μ constant) resumes with the same command:
    /// what a resumed run no longer chooses is taken from the checkpoint unless given.
    /// </summary>
    [Fact]
    public void Resume_takes_the_initialisation_and_mus_schedule_from_the_checkpoint_unless_given()
    {
        string data = TinyIdx("tiny");
        string[] train = ["train", "--data", data, "--no-progress", "--device", "cpu", "--batch-size", "5"];
        var old = LenetProcess.Run(temp.Path, [.. train, "--epochs", "1", "--init", "unit-variance", "-o", "u.safetensors"]);
        Assert.True(old.ExitCode == 0, old.Stderr);
        var resumed = LenetProcess.Run(temp.Path, [.. train, "--epochs", "2", "--resume", "u.safetensors.ckpt", "-o", "u.safetensors"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Equal("unit-variance", ModelFile.Load(temp.File("u.safetensors")).Metadata["initialization"]);

        string[] recipe = ["train", "--recipe", "paper", "--data", data, "--no-progress", "--device", "cpu"];
        var constant = LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "1", "--mu-follows-rate", "false", "-o", "p.safetensors"]);
        Assert.True(constant.ExitCode == 0, constant.Stderr);
        Assert.Equal("false", ModelFile.Load(temp.File("p.safetensors")).Metadata["sdlm_mu_follows_rate"]);
        var continued = LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "2", "--resume", "p.safetensors.ckpt", "-o", "p.safetensors"]);
        Assert.True(continued.ExitCode == 0, continued.Stderr);
        Assert.Equal("false", ModelFile.Load(temp.File("p.safetensors")).Metadata["sdlm_mu_follows_rate"]);
        // Given explicitly, the other choice is still refused.
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "3", "--mu-follows-rate", "--resume", "p.safetensors.ckpt", "-o", "q.safetensors"]),
            2, "was written with sdlm mu follows rate false; this run has true");

        // The recipe's linear convolutions of before: its model is the checkpoint's, unless squashed ones are asked for.
        var linear = LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "1", "--convolutions", "linear", "-o", "l.safetensors"]);
        Assert.True(linear.ExitCode == 0, linear.Stderr);
        var linearResumed = LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "2", "--resume", "l.safetensors.ckpt", "-o", "l.safetensors"]);
        Assert.True(linearResumed.ExitCode == 0, linearResumed.Stderr);
        Assert.Equal(LeNet.Gpu.Model.ConvolutionSquashing.Linear, ModelFile.Load(temp.File("l.safetensors")).Convolutions);
        AssertOneLineError(LenetProcess.Run(temp.Path, [.. recipe, "--epochs", "3", "--convolutions", "squashed", "--resume", "l.safetensors.ckpt", "-o", "q.safetensors"]),
            2, "was written with linear convolutions; this run has squashed");
    }

    /// <summary>
    /// train → checkpoint and plot → resume → eval (JSON, confusion and error PNGs) → predict, on a small slice of
    /// OpenCV's real handwritten digits written as IDX files (20×20, as in digits.png).
    /// </summary>
    [SkippableFact]
    public void Train_resume_eval_and_predict_on_real_digits()
    {
        Skip.If(RealData.DigitsPath is null, RealData.DigitsMissing);
        var (train, test) = OpenCvDigits.Load(RealData.DigitsPath);
        string data = Path.Combine(temp.Path, "digits-idx");
        Directory.CreateDirectory(data);
        WriteIdx(train, Enumerable.Range(0, 300).Select(i => i * train.Count / 300).ToArray(), Path.Combine(data, "train"));
        WriteIdx(test, Enumerable.Range(0, 100).Select(i => i * test.Count / 100).ToArray(), Path.Combine(data, "t10k"));

        var r = LenetProcess.Run(temp.Path, "train", "--data", data, "--epochs", "2", "--batch-size", "25", "--optimizer", "adam",
            "--validation", "0.1", "--seed", "7", "--output", "model.safetensors", "--plot", "curves.png", "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("epoch 2:", r.Stderr);
        Assert.Contains("test accuracy", r.Stdout);
        Assert.True(IsPng(temp.File("curves.png")));
        var model = ModelFile.Load(temp.File("model.safetensors"));
        Assert.Equal("2", model.Metadata["epochs"]);
        Assert.Equal("7", model.Metadata["seed"]);
        Assert.True(File.Exists(temp.File("model.safetensors.ckpt")));
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp-*"));

        r = LenetProcess.Run(temp.Path, "train", "--data", data, "--epochs", "3", "--batch-size", "25", "--optimizer", "adam",
            "--validation", "0.1", "--seed", "7", "--output", "resumed.safetensors", "--resume", "model.safetensors.ckpt", "--no-progress");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("epoch 3:", r.Stderr);
        Assert.DoesNotContain("epoch 2:", r.Stderr);

        r = LenetProcess.Run(temp.Path, "eval", "--model", "resumed.safetensors", "--data", data, "--json",
            "--confusion-png", "confusion.png", "--errors-png", "errors.png");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var json = JsonDocument.Parse(r.Stdout))
        {
            var root = json.RootElement;
            Assert.Equal(100, root.GetProperty("total").GetInt32());
            int correct = root.GetProperty("correct").GetInt32();
            Assert.Equal(correct / 100.0, root.GetProperty("accuracy").GetDouble(), 9);
            Assert.True(root.GetProperty("images_per_second").GetDouble() > 0);
            Assert.Equal(100, root.GetProperty("confusion").EnumerateArray().SelectMany(row => row.EnumerateArray()).Sum(c => c.GetInt32()));
        }
        Assert.True(IsPng(temp.File("confusion.png")));
        Assert.True(IsPng(temp.File("errors.png")));

        // predict: dark digits on white paper, as a user's scans would be, from the test images.
        string images = Path.Combine(temp.Path, "images");
        Directory.CreateDirectory(images);
        for (int i = 0; i < 3; i++) WritePng(test, i * 97, Path.Combine(images, $"digit{i}.png"));
        r = LenetProcess.Run(temp.Path, "predict", images, "--model", "resumed.safetensors", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using (var json = JsonDocument.Parse(r.Stdout))
        {
            var rows = json.RootElement.EnumerateArray().ToList();
            Assert.Equal(3, rows.Count);
            foreach (var row in rows)
            {
                Assert.InRange(row.GetProperty("class").GetInt32(), 0, 9);
                Assert.Equal(1.0, row.GetProperty("probabilities").EnumerateArray().Sum(p => p.GetDouble()), 4);
            }
        }
    }

    /// <summary>A folder of MNIST-layout IDX files: 20 training and 10 test images of a fixed pattern, labels 0–9 in turn.</summary>
    private string TinyIdx(string name) => TinyIdxFolder.Write(temp.Path, name);

    private static bool IsPng(string path) =>
        File.Exists(path) && File.ReadAllBytes(path).AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 });

    private static void WriteIdx(Dataset set, int[] indices, string prefix)
    {
        var pixels = indices.SelectMany(i => set.RawImage(i).ToArray()).ToArray();
        var labels = indices.Select(i => (byte)set.Labels[i]).ToArray();
        File.WriteAllBytes(prefix + "-images-idx3-ubyte",
            Idx.Images(indices.Length, set.RawHeight, set.RawWidth, (n, y, x) => pixels[(n * set.RawHeight + y) * set.RawWidth + x]));
        File.WriteAllBytes(prefix + "-labels-idx1-ubyte", Idx.Labels(labels));
    }

    private static void WritePng(Dataset set, int index, string path)
    {
        var raw = set.RawImage(index);
        int w = set.RawWidth, h = set.RawHeight, scale = 4;
        using var bitmap = new SKBitmap(w * scale + 40, h * scale + 40, SKColorType.Gray8, SKAlphaType.Opaque);
        bitmap.Erase(SKColors.White);
        for (int y = 0; y < h * scale; y++)
            for (int x = 0; x < w * scale; x++)
            {
                byte ink = raw[y / scale * w + x / scale];
                byte g = (byte)(255 - ink);
                bitmap.SetPixel(20 + x, 20 + y, new SKColor(g, g, g));
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    public void Dispose() => temp.Dispose();
}
